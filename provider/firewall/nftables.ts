/**
 * The nftables backend of the firewall seam (see index.ts): every rule of
 * ours lives in ONE table of ours, `inet linuxnet`, in the namespace the
 * rule is for, with a comment tag (`comment "linuxnet:<id>..."`), and is
 * deleted by its handle after it was found by that tag. The table is created
 * with our first rule and removed with our last, each chain with its last
 * rule, so a host is left exactly as before (`nft list ruleset` equal).
 *
 * Our base chains, each created only when a rule needs it (a nat chain
 * registers NAT hooks and turns connection tracking on in its namespace, so a
 * bridge's accept rule alone must not bring one):
 *
 * | chain       | type   | hook        | priority              | for                          |
 * | ----------- | ------ | ----------- | --------------------- | ---------------------------- |
 * | postrouting | nat    | postrouting | 100 (srcnat)          | masquerade, hairpin          |
 * | prerouting  | nat    | prerouting  | -100 (dstnat)         | DNAT of traffic from outside |
 * | output      | nat    | output      | -100 (dstnat)         | DNAT of the host's own       |
 * | forward     | filter | forward     | 0 (filter)            | accept between bridge ports  |
 *
 * Priorities are written as numbers, not names: nft before 0.9.6 does not
 * know the names, and 1.0.6 refuses `dstnat` in the output hook.
 *
 * Two tables at one hook: the kernel runs every base chain registered at a
 * hook, in priority order, whatever table it is in. `accept` ends the packet's
 * walk through THAT chain only; the next base chain (Docker's or firewalld's,
 * or iptables-nft's `ip filter FORWARD`) still sees the packet, and a `drop`
 * there (a rule, or `policy drop`) is final. So no priority of ours makes an
 * accept win over someone else's drop: ours runs at 0 like theirs, and an
 * earlier priority would change nothing. NAT is different: the first nat
 * chain at a hook that gives a NAT verdict sets up the connection's mapping,
 * and a chain at the same hook later on is not asked again for that
 * connection; that is why the nat chains sit at the standard srcnat/dstnat
 * priorities, where iptables-nft's own nat chains sit too.
 */

import ipaddr from "ipaddr.js";
import { CommandError } from "../errors";
import type { Host } from "../transport";
import { type HostReader, liveReader } from "../host/reader";
import { inNamespace } from "../host/ip";
import {
  NFT_FAMILY,
  NFT_MISSING_HINT,
  NFT_TABLE,
  type NftRuleState,
  type NftTableState,
  addressMatch,
  dnatTarget,
  isNftMissing,
  metaMatch,
  nftListTableArgv,
  portMatch,
  verdictOf,
} from "../host/nftables";
import { withLock } from "../resources/lock";
import type {
  DnatHook,
  Firewall,
  Masquerade,
  OwnedPortRule,
  OwnedRule,
  PortMapping,
} from "./index";

/** The chains of our table. */
export type NftChainName = "postrouting" | "prerouting" | "output" | "forward";

/** Each chain's type, hook and priority (see the table at the top). */
export const NFT_CHAINS: Readonly<
  Record<
    NftChainName,
    { readonly type: "nat" | "filter"; readonly hook: string; readonly priority: number }
  >
> = {
  postrouting: { type: "nat", hook: "postrouting", priority: 100 },
  prerouting: { type: "nat", hook: "prerouting", priority: -100 },
  output: { type: "nat", hook: "output", priority: -100 },
  forward: { type: "filter", hook: "forward", priority: 0 },
};

/** One rule to add: its chain, its statement (matches and verdict) and its tag. */
export interface NftRule {
  readonly chain: NftChainName;
  readonly statement: string;
  readonly tag: string;
}

/**
 * Words that go into an nft script. Every input reaching here was checked
 * before (interface names: letters, digits, `_.-`); these refuse anything
 * else again, so that no value can ever end a string or a statement.
 */
function ifname(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name))
    throw new Error(`not an interface name for nft: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

function comment(tag: string): string {
  if (!/^linuxnet:[A-Za-z0-9_.:@-]+$/.test(tag))
    throw new Error(`not a tag of ours: ${JSON.stringify(tag)}`);
  return `comment "${tag}"`;
}

/** An address or network (`10.0.0.0/24`, `fd00::/64`, `10.0.0.2`) and its nft family word. */
function address(value: string): { readonly family: "ip" | "ip6"; readonly text: string } {
  const [addr = "", len, ...more] = value.split("/");
  if (
    more.length > 0 ||
    !ipaddr.isValid(addr) ||
    (len !== undefined && !/^[0-9]{1,3}$/.test(len))
  ) {
    throw new Error(`not an address or network for nft: ${JSON.stringify(value)}`);
  }
  const parsed = ipaddr.parse(addr);
  const family = parsed.kind() === "ipv6" ? "ip6" : "ip";
  return { family, text: len === undefined ? parsed.toString() : `${parsed.toString()}/${len}` };
}

/** `ip saddr SRC [oifname "OUT"] masquerade`, in postrouting. */
export function masqueradeRule(rule: Masquerade, tag: string): NftRule {
  const src = address(rule.source);
  const out = rule.outInterface ? ` oifname ${ifname(rule.outInterface)}` : "";
  return {
    chain: "postrouting",
    statement: `${src.family} saddr ${src.text}${out} masquerade`,
    tag,
  };
}

/** `iifname "BR" oifname "BR" accept`, in forward. */
export function bridgeAcceptRule(bridge: string, tag: string): NftRule {
  return {
    chain: "forward",
    statement: `iifname ${ifname(bridge)} oifname ${ifname(bridge)} accept`,
    tag,
  };
}

/** A destination NAT: traffic to `hostPort` (by `protocol`) goes to `to`. */
export interface Dnat {
  readonly protocol: "tcp" | "udp";
  readonly hostPort: number;
  /** `10.0.0.2:80`, `10.0.0.2` (same port), `[fd00::2]:80`. */
  readonly to: string;
  /** Only traffic arriving by this interface; any when unset. */
  readonly inInterface?: string;
}

/** `to` taken apart: family, address, port. Throws for anything else. */
export function dnatTargetOf(to: string): {
  readonly family: "ip" | "ip6";
  readonly addr: string;
  readonly port?: number;
} {
  const m =
    /^\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?$/.exec(to) ?? /^([0-9.]+)(?::([0-9]{1,5}))?$/.exec(to);
  const addr = m?.[1];
  if (!addr || !ipaddr.isValid(addr))
    throw new Error(`not a DNAT target for nft: ${JSON.stringify(to)}`);
  const parsed = ipaddr.parse(addr);
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`not a port: ${port}`);
  return {
    family: parsed.kind() === "ipv6" ? "ip6" : "ip",
    addr: parsed.toString(),
    ...(port === undefined ? {} : { port }),
  };
}

function dnatParts(d: Dnat): {
  match: string;
  target: string;
  family: "ip" | "ip6";
  addr: string;
  port: number;
} {
  if (d.protocol !== "tcp" && d.protocol !== "udp")
    throw new Error(`not a protocol for DNAT: ${JSON.stringify(d.protocol)}`);
  if (!Number.isInteger(d.hostPort) || d.hostPort < 1 || d.hostPort > 65535)
    throw new Error(`not a port: ${d.hostPort}`);
  const t = dnatTargetOf(d.to);
  const host = t.family === "ip6" ? `[${t.addr}]` : t.addr;
  return {
    match: `${d.protocol} dport ${d.hostPort}`,
    target: `dnat ${t.family} to ${host}${t.port === undefined ? "" : `:${t.port}`}`,
    family: t.family,
    addr: t.addr,
    port: t.port ?? d.hostPort,
  };
}

/**
 * Traffic arriving for `hostPort` goes to `to`: in prerouting,
 * `[iifname "IN"] tcp dport P dnat ip to ADDR:PORT` (iptables:
 * `-t nat -A PREROUTING [-i IN] -p tcp --dport P -j DNAT --to-destination ADDR:PORT`).
 */
export function dnatRule(d: Dnat, tag: string): NftRule {
  const p = dnatParts(d);
  const inIf = d.inInterface ? `iifname ${ifname(d.inInterface)} ` : "";
  return { chain: "prerouting", statement: `${inIf}${p.match} ${p.target}`, tag };
}

/**
 * The host's own traffic to one of its local addresses at `hostPort` goes to
 * `to` too (`fromHost`): in output, `fib daddr type local tcp dport P dnat ip
 * to ADDR:PORT` (iptables: `-t nat -A OUTPUT -m addrtype --dst-type LOCAL -p tcp --dport P -j DNAT ...`).
 */
export function dnatFromHostRule(d: Dnat, tag: string): NftRule {
  const p = dnatParts(d);
  return { chain: "output", statement: `fib daddr type local ${p.match} ${p.target}`, tag };
}

/**
 * Masquerade of connections that were DNATed to `to`, so that the reply
 * comes back through the host (hairpin: a client on the target's own network,
 * or the host's own traffic from 127.0.0.1): in postrouting, `ct status dnat
 * ip daddr ADDR tcp dport PORT masquerade`.
 */
export function hairpinMasqueradeRule(d: Dnat, tag: string): NftRule {
  const p = dnatParts(d);
  return {
    chain: "postrouting",
    statement: `ct status dnat ${p.family} daddr ${p.addr} ${d.protocol} dport ${p.port} masquerade`,
    tag,
  };
}

const TABLE = `${NFT_FAMILY} ${NFT_TABLE}`;

/**
 * The nft script that adds `rules`, with our table and the chains they need
 * (`add` leaves an existing table or chain as it is). nft runs a script as
 * one transaction: all of it or none. Pure.
 */
export function planAddScript(rules: readonly NftRule[]): string {
  const chains = [...new Set(rules.map((r) => r.chain))];
  return [
    `add table ${TABLE}`,
    ...chains.map((c) => {
      const { type, hook, priority } = NFT_CHAINS[c];
      return `add chain ${TABLE} ${c} { type ${type} hook ${hook} priority ${priority}; policy accept; }`;
    }),
    ...rules.map((r) => `add rule ${TABLE} ${r.chain} ${r.statement} ${comment(r.tag)}`),
  ].join("\n");
}

/** True when a rule's comment is `tag` itself or `tag:<more>`. */
function taggedWith(rule: NftRuleState, tag: string): boolean {
  const c = rule.comment;
  return c !== undefined && (c === tag || c.startsWith(`${tag}:`));
}

/**
 * The nft script that deletes our rules tagged `tag` (in `chains`, or any)
 * by handle, then each chain of ours left empty, and the table when nothing
 * is left in it; undefined when there is nothing to do. Pure.
 */
export function planDeleteScript(
  table: NftTableState,
  tag: string,
  chains?: readonly NftChainName[],
): string | undefined {
  if (!table.exists) return undefined;
  const doomed = table.rules.filter(
    (r) => taggedWith(r, tag) && (!chains || (chains as readonly string[]).includes(r.chain)),
  );
  const left = table.rules.filter((r) => !doomed.includes(r));
  const emptied = table.chains.filter((c) => !left.some((r) => r.chain === c.name));
  if (doomed.length === 0 && left.length > 0) return undefined;
  const lines = doomed.map((r) => `delete rule ${TABLE} ${r.chain} handle ${r.handle}`);
  if (left.length === 0) lines.push(`delete table ${TABLE}`);
  else lines.push(...emptied.map((c) => `delete chain ${TABLE} ${c.name}`));
  return lines.join("\n");
}

/** Equivalent to: `[ip netns exec NS] nft SCRIPT` (nft reads a script given as one argument as it reads a file). */
export function nftArgv(namespace: string | undefined, script: string): string[] {
  return inNamespace(namespace, ["nft", script]);
}

/** Our table's mutations in one namespace take turns within the provider process. */
function lockKey(host: string, namespace: string | undefined): string {
  return `nftables ${host} ${namespace ?? "@host"}`;
}

/**
 * Runs `fn` while no other change to our table in that namespace runs in this
 * process: a delete that removes the emptied table must not race an add that
 * counts on it. A kind that adds a rule in a batch of its own (Bridge) wraps
 * the batch in this.
 */
export function withTableLock<T>(
  hostName: string,
  namespace: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  return withLock(lockKey(hostName, namespace), fn);
}

/** The error for a failed nft command, saying so plainly when nft is not installed. */
function nftError(
  host: Host,
  argv: string[],
  r: { exitCode: number; stdout: string; stderr: string },
): CommandError {
  const why = isNftMissing(r.exitCode, r.stderr)
    ? `${r.stderr.trim()} (${NFT_MISSING_HINT})`
    : r.stderr;
  return new CommandError(host.name, argv, r.exitCode, r.stdout, why);
}

/** Our table in a namespace, read live; undefined when the namespace is not there. */
export function readNftTable(
  host: Host,
  namespace: string | undefined,
): Promise<NftTableState | undefined> {
  return liveReader(host).nftTable(namespace);
}

/** Adds rules (with our table and chains as needed) in one transaction; throws with the command and nft's words. */
export async function addNftRules(
  host: Host,
  namespace: string | undefined,
  rules: readonly NftRule[],
): Promise<void> {
  const argv = nftArgv(namespace, planAddScript(rules));
  await withTableLock(host.name, namespace, async () => {
    const r = await host.run(argv);
    if (r.exitCode !== 0) throw nftError(host, argv, r);
  });
}

/**
 * Deletes our rules tagged `tag` (in `chains`, or any), and the chains and
 * table they leave empty. Idempotent: no rule, no table or no namespace is
 * success. A delete that loses a race (a rule gone between our read and our
 * delete fails the whole transaction) reads again and tries again.
 */
export async function deleteNftRules(
  host: Host,
  namespace: string | undefined,
  tag: string,
  chains?: readonly NftChainName[],
): Promise<void> {
  await withTableLock(host.name, namespace, async () => {
    for (let attempt = 1; ; attempt++) {
      const table = await readNftTable(host, namespace);
      const script = table && planDeleteScript(table, tag, chains);
      if (!script) return;
      const argv = nftArgv(namespace, script);
      const r = await host.run(argv);
      if (r.exitCode === 0) return;
      if (attempt >= 3) throw nftError(host, argv, r);
    }
  });
}

/** Our rules in one chain, through a reader; undefined when the namespace is not there. */
export async function nftChainRules(
  reader: HostReader,
  namespace: string | undefined,
  chain: NftChainName,
): Promise<NftRuleState[] | undefined> {
  const table = await reader.nftTable(namespace);
  return table?.rules.filter((r) => r.chain === chain && r.comment?.startsWith("linuxnet:"));
}

/** A rule of ours as the firewall seam reports it: its tag, its source and its out-interface. */
export function ownedNftRule(rule: NftRuleState): OwnedRule {
  const source = addressMatch(rule, "saddr");
  const outInterface = metaMatch(rule, "oifname");
  return {
    tag: rule.comment ?? "",
    ...(source === undefined ? {} : { source }),
    ...(outInterface === undefined ? {} : { outInterface }),
  };
}

/**
 * A port forward's DNAT rules for `hook`: one rule per host port, since nft
 * has no one-to-one map of a port range like iptables' `--to-destination
 * A:80-90/8000` (a range target there picks any port of it).
 */
export function portForwardRules(m: PortMapping, hook: DnatHook, tag: string): NftRule[] {
  const [first, last] = m.hostPorts;
  const rules: NftRule[] = [];
  for (let port = first; port <= last; port++) {
    const d: Dnat = {
      protocol: m.protocol,
      hostPort: port,
      to: `${m.toAddress}:${m.toPort + (port - first)}`,
      ...(m.inInterface === undefined ? {} : { inInterface: m.inInterface }),
    };
    rules.push(hook === "incoming" ? dnatRule(d, tag) : dnatFromHostRule(d, tag));
  }
  return rules;
}

/**
 * A port forward's hairpin masquerade: connections from `source` (the
 * target's own network) that were DNATed to the target are masqueraded, so
 * the reply comes back through the host, as iptables' `-s SRC -d A/32 -p P
 * --dport PORTS -m conntrack --ctstate DNAT -j MASQUERADE`.
 */
export function portForwardHairpinRule(m: PortMapping, source: string, tag: string): NftRule {
  if (!ipaddr.IPv4.isValidCIDRFourPartDecimal(source)) {
    throw new Error(`not an IPv4 network for a hairpin rule: ${JSON.stringify(source)}`);
  }
  const d = dnatParts({ protocol: m.protocol, hostPort: m.toPort, to: m.toAddress });
  const lastPort = m.toPort + (m.hostPorts[1] - m.hostPorts[0]);
  const ports = lastPort === m.toPort ? `${m.toPort}` : `${m.toPort}-${lastPort}`;
  return {
    chain: "postrouting",
    statement: `ip saddr ${source} ip daddr ${d.addr} ${m.protocol} dport ${ports} ct status dnat masquerade`,
    tag,
  };
}

/** True for a rule that matches on `ct status` (our hairpin masquerades). */
function matchesCtStatus(rule: NftRuleState): boolean {
  return rule.expr.some((e) => {
    const left = (e as { match?: { left?: { ct?: { key?: string } } } }).match?.left;
    return left?.ct?.key === "status";
  });
}

/**
 * Our port forwards' rules as the firewall seam reports them: one entry per
 * tag and hook, its host ports folded back into one range. Pure.
 */
export function ownedPortRules(table: NftTableState): OwnedPortRule[] {
  const ours = table.rules.filter((r) => r.comment?.startsWith("linuxnet:"));
  const out: OwnedPortRule[] = [];
  for (const [chain, hook] of [
    ["prerouting", "incoming"],
    ["output", "local"],
  ] as const) {
    const byTag = new Map<string, { port: number; protocol: string; rule: NftRuleState }[]>();
    for (const rule of ours) {
      const port = portMatch(rule);
      if (rule.chain !== chain || verdictOf(rule).kind !== "dnat" || !port) continue;
      const list = byTag.get(rule.comment!) ?? [];
      list.push({ ...port, rule });
      byTag.set(rule.comment!, list);
    }
    for (const [tag, list] of byTag) {
      list.sort((a, b) => a.port - b.port);
      const first = list[0]!;
      const last = list[list.length - 1]!;
      const inInterface = metaMatch(first.rule, "iifname");
      const to = dnatTarget(first.rule);
      out.push({
        tag,
        hook,
        protocol: first.protocol,
        hostPort: last.port === first.port ? `${first.port}` : `${first.port}-${last.port}`,
        ...(inInterface === undefined ? {} : { inInterface }),
        ...(to === undefined ? {} : { to }),
      });
    }
  }
  for (const rule of ours) {
    if (rule.chain !== "postrouting" || verdictOf(rule).kind !== "masquerade") continue;
    if (!matchesCtStatus(rule)) continue;
    const source = addressMatch(rule, "saddr");
    out.push({ tag: rule.comment!, hook: "hairpin", ...(source === undefined ? {} : { source }) });
  }
  return out;
}

/** The nftables backend. */
export const nftablesFirewall: Firewall = {
  name: "nftables",

  planMasquerade: (namespace, rule, tag) =>
    nftArgv(namespace, planAddScript([masqueradeRule(rule, tag)])),
  addMasquerade: (host, namespace, rule, tag) =>
    addNftRules(host, namespace, [masqueradeRule(rule, tag)]),
  async masquerades(reader, namespace) {
    const rules = await nftChainRules(reader, namespace, "postrouting");
    return rules?.filter((r) => verdictOf(r).kind === "masquerade").map(ownedNftRule);
  },
  async assertMasqueradesReadable(host, namespace) {
    if (!(await readNftTable(host, namespace))) {
      // Throws with the command and the kernel's words ("Cannot open network namespace").
      await host.runOk(nftListTableArgv(namespace));
    }
  },
  deleteMasquerades: (host, namespace, tag) =>
    deleteNftRules(host, namespace, tag, ["postrouting"]),

  async natRules(reader, namespace) {
    const table = await reader.nftTable(namespace);
    return table?.rules
      .filter((r) => r.chain !== "forward" && r.comment?.startsWith("linuxnet:"))
      .map(ownedNftRule);
  },
  planDnat: (namespace, mapping, hook, tag) =>
    nftArgv(namespace, planAddScript(portForwardRules(mapping, hook, tag))),
  addDnat: (host, namespace, mapping, hook, tag) =>
    addNftRules(host, namespace, portForwardRules(mapping, hook, tag)),
  planHairpin: (namespace, mapping, source, tag) =>
    nftArgv(namespace, planAddScript([portForwardHairpinRule(mapping, source, tag)])),
  addHairpin: (host, namespace, mapping, source, tag) =>
    addNftRules(host, namespace, [portForwardHairpinRule(mapping, source, tag)]),
  async portRules(reader, namespace) {
    const table = await reader.nftTable(namespace);
    return table && ownedPortRules(table);
  },
  deletePortRules: (host, namespace, tag) =>
    deleteNftRules(host, namespace, tag, ["prerouting", "output", "postrouting"]),

  planBridgeAccept: (namespace, bridge, tag) =>
    nftArgv(namespace, planAddScript([bridgeAcceptRule(bridge, tag)])),
  addBridgeAccept: (host, namespace, bridge, tag) =>
    addNftRules(host, namespace, [bridgeAcceptRule(bridge, tag)]),
  async forwardAccepts(reader, namespace) {
    const rules = await nftChainRules(reader, namespace, "forward");
    return rules?.filter((r) => verdictOf(r).kind === "accept").map(ownedNftRule);
  },
  deleteForwardAccepts: (host, namespace, tag) => deleteNftRules(host, namespace, tag, ["forward"]),
};
