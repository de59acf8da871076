/**
 * A picture of everything on a lab host that this package could touch, to
 * prove that destroy leaves the host exactly as it was: the namespace list,
 * and in the host and every namespace the links, addresses and routes
 * (`ip -json`), the qdiscs (`tc -json qdisc show`), the iptables rule set
 * (`iptables-save`), the nftables rule set (`nft -j list ruleset`) and
 * `ip_forward`. A lab host made without one of the two firewall commands
 * (`without` in lab/labhost.ts) shows a fixed word for it.
 */

import type { LabHost } from "../../lab/labhost";
import { inNs, ipIn, namespaces, oob, oobResult } from "./oob";
import { waitFor } from "./wait";

/** What one network namespace (or the host's own, under "") holds. */
export interface NamespaceSnapshot {
  links: unknown[];
  addresses: unknown[];
  routes: unknown[];
  qdiscs: unknown[];
  iptables: string;
  nftables: string;
  ipForward: string;
  /**
   * The host's own only: the files under `/run/linuxnet` (the provider's records:
   * ownership marks, sysctl claims), each with its content; the lab's sudo log aside.
   */
  records?: string;
}

/** A host's snapshot: its namespaces by name, the host's own under "". */
export type HostSnapshot = Record<string, NamespaceSnapshot>;

/** Fields that change without anyone changing the configuration (counters, timers). */
function stable(entries: unknown[]): unknown[] {
  return entries.map((e) => {
    const { ifindex: _i, stats64: _s, ...rest } = e as Record<string, unknown>;
    return rest;
  });
}

/** The qdiscs of every interface, less their reference counts (which follow the kernel's own use). */
function qdiscsOf(text: string): unknown[] {
  return (JSON.parse(text.trim() || "[]") as Record<string, unknown>[]).map(
    ({ refcnt: _r, ...rest }) => rest,
  );
}

/** How long a host may take to settle before its snapshot fails instead. */
export const SETTLE_TIMEOUT_MS = 5_000;

/**
 * Waits until no address is still in IPv6 duplicate address detection: a
 * freshly started host gains link-local addresses and routes for a moment,
 * which is the kernel settling, not anyone's change. A host that does not
 * settle in {@link SETTLE_TIMEOUT_MS} fails the snapshot, naming where, rather
 * than being compared half-settled (which would pass or fail by chance).
 */
async function settled(host: LabHost, all: string[]): Promise<void> {
  let unsettled: string[] = [];
  await waitFor(
    async () => {
      unsettled = [];
      for (const ns of all) {
        const out = await oob(host, ipIn(ns, "-json", "addr"));
        if (out.includes('"tentative":true')) unsettled.push(ns || "the host itself");
      }
      return unsettled.length === 0;
    },
    {
      timeoutMs: SETTLE_TIMEOUT_MS,
      what: () =>
        `${host.name} to settle before its snapshot (IPv6 addresses still tentative in ` +
        `${unsettled.join(", ")})`,
    },
  );
}

const BUILTIN_CHAIN = /^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT /;

/**
 * The rule set as `iptables-save` prints it, less what carries no meaning:
 * comment lines (the time of the dump), counters, and tables that hold
 * nothing but built-in chains with an ACCEPT policy. With iptables-nft, the
 * first command on a table creates it, and it stays when its last rule goes;
 * such an empty table filters nothing, exactly like no table at all.
 */
export function ruleSet(save: string): string {
  const tables = save
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.replace(/\[\d+:\d+\]/g, "[0:0]"))
    .join("\n")
    .split(/(?<=^COMMIT)\n/m);
  return tables
    .filter(
      (t) =>
        !t.split("\n").every((l) => l.startsWith("*") || l === "COMMIT" || BUILTIN_CHAIN.test(l)),
    )
    .join("\n");
}

/** The tables iptables-nft makes, by family and name. */
const IPTABLES_NFT_TABLE = /^(ip|ip6|arp|bridge) (filter|nat|mangle|raw|security)$/;

/**
 * The rule set as `nft -j list ruleset` prints it, less what carries no
 * meaning: nft's version, handles (numbers the kernel hands out), counters,
 * and the tables iptables-nft made and left holding nothing but base chains
 * with an ACCEPT policy (see {@link ruleSet}). Any other table stays, empty
 * or not: an empty `inet linuxnet` left behind is a finding.
 */
export function nftRuleSet(json: string): string {
  const entries = (
    (JSON.parse(json || "{}") as { nftables?: Record<string, unknown>[] }).nftables ?? []
  ).filter((e) => !("metainfo" in e));
  const tableOf = (e: Record<string, unknown>): string => {
    const [kind] = Object.keys(e);
    const body = e[kind!] as Record<string, unknown>;
    return kind === "table" ? `${body.family} ${body.name}` : `${body.family} ${body.table}`;
  };
  const meaningless = new Set<string>();
  for (const e of entries) {
    if (!("table" in e)) continue;
    const key = tableOf(e);
    if (!IPTABLES_NFT_TABLE.test(key)) continue;
    const inside = entries.filter((x) => !("table" in x) && tableOf(x) === key);
    const empty = inside.every(
      (x) => "chain" in x && (x.chain as { policy?: string }).policy === "accept",
    );
    if (empty) meaningless.add(key);
  }
  const kept = entries.filter((e) => !meaningless.has(tableOf(e)));
  return JSON.stringify(kept, (key, value: unknown) => {
    if (key === "handle") return undefined;
    if (key === "counter" && value && typeof value === "object") return { packets: 0, bytes: 0 };
    return value;
  });
}

/** A command's output, or `word` when the lab host does not have the command (exit 127). */
async function unlessMissing(
  host: LabHost,
  argv: string[],
  word: string,
): Promise<string | undefined> {
  const r = await oobResult(host, argv);
  if (r.exitCode === 127 || /No such file or directory|not found/.test(r.stderr)) {
    if (!/Cannot open network namespace/.test(r.stderr)) return word;
  }
  return oob(host, argv);
}

/** Lists every file under /run/linuxnet with its content, in a stable order. */
const LIST_RECORDS =
  "cd /run/linuxnet 2>/dev/null && find . -type f ! -name sudo.log | LC_ALL=C sort | " +
  'while read -r f; do echo "== $f"; cat "$f"; echo; done';

/** Takes the snapshot, once the host's addresses have settled. */
export async function snapshotHost(host: LabHost): Promise<HostSnapshot> {
  const snapshot: HostSnapshot = {};
  const all = ["", ...(await namespaces(host))];
  await settled(host, all);
  for (const ns of all) {
    const ip = (...args: string[]) => oob(host, ipIn(ns, "-json", ...args));
    snapshot[ns] = {
      links: stable(JSON.parse((await ip("link", "show")) || "[]")),
      addresses: stable(JSON.parse((await ip("addr", "show")) || "[]")),
      routes: JSON.parse((await ip("route", "show", "table", "all")) || "[]"),
      qdiscs: qdiscsOf(await oob(host, inNs(ns, ["tc", "-json", "qdisc", "show"]))),
      iptables: await unlessMissing(host, inNs(ns, ["iptables-save"]), "(no iptables-save)").then(
        (out) => (out === "(no iptables-save)" ? out : ruleSet(out!)),
      ),
      nftables: await unlessMissing(
        host,
        inNs(ns, ["nft", "-j", "list", "ruleset"]),
        "(no nft)",
      ).then((out) => (out === "(no nft)" ? out : nftRuleSet(out!))),
      ipForward: (await oob(host, inNs(ns, ["cat", "/proc/sys/net/ipv4/ip_forward"]))).trim(),
      ...(ns === "" ? { records: await oob(host, ["sh", "-c", LIST_RECORDS]) } : {}),
    };
  }
  return snapshot;
}
