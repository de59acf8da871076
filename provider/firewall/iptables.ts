/**
 * The iptables backend of the firewall seam (see index.ts). Rules carry a
 * comment tag and are read back with `iptables -S`; every call waits for the
 * xtables lock (`-w`). The low-level reading and deleting of tagged rules is
 * in host/iptables.ts, which the doctor shares.
 */

import { CommandError } from "../errors";
import type { Host } from "../transport";
import {
  deleteTaggedRules,
  iptablesArgv,
  readTaggedRules,
  type TaggedRule,
} from "../host/iptables";
import type {
  DnatHook,
  Firewall,
  Masquerade,
  OwnedPortRule,
  OwnedRule,
  PortMapping,
} from "./index";

/** The masquerade rule's spec after the chain, in the order `iptables -S` prints it back. */
export function masqueradeSpec(rule: Masquerade, tag: string): string[] {
  return [
    "-s",
    rule.source,
    ...(rule.outInterface ? ["-o", rule.outInterface] : []),
    "-m",
    "comment",
    "--comment",
    tag,
    "-j",
    "MASQUERADE",
  ];
}

/** Equivalent to: `[ip netns exec NS] iptables -w -t nat -A POSTROUTING -s SRC [-o OUT] -m comment --comment TAG -j MASQUERADE` */
export function planMasqueradeAppend(
  namespace: string | undefined,
  rule: Masquerade,
  tag: string,
): string[] {
  return iptablesArgv(namespace, "nat", "-A", "POSTROUTING", ...masqueradeSpec(rule, tag));
}

/** Equivalent to: `[ip netns exec NS] iptables -w -t filter -I FORWARD 1 -i BR -o BR -m comment --comment TAG -j ACCEPT` */
export function planBridgeAccept(
  namespace: string | undefined,
  bridge: string,
  tag: string,
): string[] {
  // Inserted first, so that it comes before the DROP rules a host may already have.
  return iptablesArgv(
    namespace,
    "filter",
    "-I",
    "FORWARD",
    "1",
    "-i",
    bridge,
    "-o",
    bridge,
    "-m",
    "comment",
    "--comment",
    tag,
    "-j",
    "ACCEPT",
  );
}

/** Ports as iptables matches them: `8080`, `8000:8010`. */
function portMatch(ports: readonly [number, number]): string {
  return ports[0] === ports[1] ? String(ports[0]) : `${ports[0]}:${ports[1]}`;
}

/** The target ports of a mapping, as many as the host ports: `[80, 90]`. */
function targetPorts(m: PortMapping): [number, number] {
  return [m.toPort, m.toPort + m.hostPorts[1] - m.hostPorts[0]];
}

/**
 * The DNAT target: `10.0.0.2:80`, or for a range `10.0.0.2:80-90/8000`, the
 * shifted port map (kernel 4.19, iptables 1.8) that sends host port 8000+k to
 * 80+k; a plain range there would pick any port of it for every connection.
 */
function dnatTarget(m: PortMapping): string {
  const [first, last] = targetPorts(m);
  if (first === last) return `${m.toAddress}:${first}`;
  return `${m.toAddress}:${first}-${last}/${m.hostPorts[0]}`;
}

/**
 * A DNAT rule's spec after the chain, in the order `iptables -S` prints it.
 * `--dst-type LOCAL` keeps it to traffic for the host's own addresses (as CNI
 * portmap and Docker do): traffic the host only routes past keeps its port.
 * For the host's own traffic, loopback is left out: a connection from
 * 127.0.0.1 rerouted to another interface is dropped as a martian unless
 * `route_localnet` is set there, a setting of the interface that is not ours.
 */
export function dnatSpec(m: PortMapping, hook: DnatHook, tag: string): string[] {
  return [
    ...(hook === "local" ? ["!", "-d", "127.0.0.0/8"] : []),
    ...(hook === "incoming" && m.inInterface ? ["-i", m.inInterface] : []),
    "-p",
    m.protocol,
    "-m",
    "addrtype",
    "--dst-type",
    "LOCAL",
    "-m",
    m.protocol,
    "--dport",
    portMatch(m.hostPorts),
    "-m",
    "comment",
    "--comment",
    tag,
    "-j",
    "DNAT",
    "--to-destination",
    dnatTarget(m),
  ];
}

/** Equivalent to: `[ip netns exec NS] iptables -w -t nat -A PREROUTING|OUTPUT SPEC... -j DNAT --to-destination TO` */
export function planDnat(
  namespace: string | undefined,
  m: PortMapping,
  hook: DnatHook,
  tag: string,
): string[] {
  const chain = hook === "incoming" ? "PREROUTING" : "OUTPUT";
  return iptablesArgv(namespace, "nat", "-A", chain, ...dnatSpec(m, hook, tag));
}

/** The hairpin masquerade's spec after the chain, in the order `iptables -S` prints it. */
export function hairpinSpec(m: PortMapping, source: string, tag: string): string[] {
  return [
    "-s",
    source,
    "-d",
    `${m.toAddress}/32`,
    "-p",
    m.protocol,
    "-m",
    m.protocol,
    "--dport",
    portMatch(targetPorts(m)),
    "-m",
    "conntrack",
    "--ctstate",
    "DNAT",
    "-m",
    "comment",
    "--comment",
    tag,
    "-j",
    "MASQUERADE",
  ];
}

/** Equivalent to: `[ip netns exec NS] iptables -w -t nat -A POSTROUTING -s NET -d TO -p P --dport PORTS -m conntrack --ctstate DNAT -j MASQUERADE` */
export function planHairpin(
  namespace: string | undefined,
  m: PortMapping,
  source: string,
  tag: string,
): string[] {
  return iptablesArgv(namespace, "nat", "-A", "POSTROUTING", ...hairpinSpec(m, source, tag));
}

/** A port forward's rule as `iptables -S` has it; undefined for a rule that is none. */
export function ownedPortRule(rule: TaggedRule): OwnedPortRule | undefined {
  const word = (flag: string) => {
    const i = rule.spec.indexOf(flag);
    return i >= 0 ? rule.spec[i + 1] : undefined;
  };
  const target = word("-j");
  const hook =
    rule.chain === "PREROUTING" && target === "DNAT"
      ? "incoming"
      : rule.chain === "OUTPUT" && target === "DNAT"
        ? "local"
        : rule.chain === "POSTROUTING" && target === "MASQUERADE" && word("--ctstate") === "DNAT"
          ? "hairpin"
          : undefined;
  if (!hook) return undefined;
  const fields: Record<string, string | undefined> = {
    protocol: word("-p"),
    inInterface: word("-i"),
    hostPort: hook === "hairpin" ? undefined : word("--dport")?.replace(":", "-"),
    // `10.0.0.2:80-90/8000` is `10.0.0.2:80` to a user: the range follows from the host ports.
    to: word("--to-destination")?.replace(/-\d+\/\d+$/, ""),
    source: hook === "hairpin" ? word("-s") : undefined,
  };
  const defined = Object.entries(fields).filter(([, v]) => v !== undefined);
  return { tag: rule.tag, hook, ...Object.fromEntries(defined) };
}

/** A rule of ours as `iptables -S` has it: its tag, and its `-s` and `-o` when it has them. */
export function ownedRule(rule: TaggedRule): OwnedRule {
  const word = (flag: string) => {
    const i = rule.spec.indexOf(flag);
    return i >= 0 ? rule.spec[i + 1] : undefined;
  };
  const source = word("-s");
  const outInterface = word("-o");
  return {
    tag: rule.tag,
    ...(source === undefined ? {} : { source }),
    ...(outInterface === undefined ? {} : { outInterface }),
  };
}

/** Runs a command; a failure throws with the command and the kernel's words. */
async function runOrThrow(host: Host, argv: string[]): Promise<void> {
  const r = await host.run(argv);
  if (r.exitCode !== 0) throw new CommandError(host.name, argv, r.exitCode, r.stdout, r.stderr);
}

/** The iptables backend. */
export const iptablesFirewall: Firewall = {
  name: "iptables",

  planMasquerade: planMasqueradeAppend,
  addMasquerade: (host, namespace, rule, tag) =>
    runOrThrow(host, planMasqueradeAppend(namespace, rule, tag)),
  async masquerades(reader, namespace) {
    return (await reader.taggedRules(namespace, "nat", "POSTROUTING"))?.map(ownedRule);
  },
  async assertMasqueradesReadable(host, namespace) {
    if (!(await readTaggedRules(host, namespace, "nat", "POSTROUTING"))) {
      // Throws with the command and the kernel's words ("Cannot open network namespace").
      await host.runOk(iptablesArgv(namespace, "nat", "-S", "POSTROUTING"));
    }
  },
  deleteMasquerades: (host, namespace, tag) => deleteTaggedRules(host, namespace, "nat", tag),
  async natRules(reader, namespace) {
    return (await reader.taggedRules(namespace, "nat"))?.map(ownedRule);
  },

  planDnat,
  addDnat: (host, namespace, mapping, hook, tag) =>
    runOrThrow(host, planDnat(namespace, mapping, hook, tag)),
  planHairpin,
  addHairpin: (host, namespace, mapping, source, tag) =>
    runOrThrow(host, planHairpin(namespace, mapping, source, tag)),
  async portRules(reader, namespace) {
    const rules = await reader.taggedRules(namespace, "nat");
    return rules?.flatMap((r) => ownedPortRule(r) ?? []);
  },
  deletePortRules: (host, namespace, tag) => deleteTaggedRules(host, namespace, "nat", tag),

  planBridgeAccept,
  addBridgeAccept: async (host, namespace, bridge, tag) => {
    await host.runOk(planBridgeAccept(namespace, bridge, tag));
  },
  async forwardAccepts(reader, namespace) {
    return (await reader.taggedRules(namespace, "filter", "FORWARD"))?.map(ownedRule);
  },
  deleteForwardAccepts: (host, namespace, tag) => deleteTaggedRules(host, namespace, "filter", tag),
};
