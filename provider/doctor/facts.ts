/**
 * What the doctor knows about a host before it walks: the world (every
 * namespace's links), each namespace's `ip_forward`, its iptables `filter`
 * and `nat` rules, and the sysctls it asks about (rp_filter, br_netfilter).
 * All of it comes from ONE host snapshot; what cannot be batched (`ip route
 * get`, evidence on a failure, the probe) runs as commands of its own.
 */

import type { Host } from "../transport";
import { type HostSnapshot, type NamespaceDump, readHostSnapshot } from "../host/snapshot";
import { parseJsonList } from "../host/ip";
import { type RuleTable, parseRuleTable } from "./netfilter";
import { type NftRuleset, parseNftRuleset } from "./nftrules";
import type { IpRule, Neighbour, TableRoute } from "./policy";
import { type World, worldFromSnapshot } from "./world";

/** The host's state as the doctor reads it; every method answers from the snapshot. */
export interface HostFacts {
  readonly world: World;
  /**
   * A file under /proc/sys in a namespace (`net/ipv4/conf/br0/rp_filter`),
   * trimmed; undefined when the namespace has no such file.
   */
  sysctl(namespace: string | undefined, file: string): string | undefined;
  /** `net.ipv4.ip_forward` is 1 in the namespace. */
  ipForward(namespace: string | undefined): boolean;
  /** An iptables table, parsed; a string (iptables' words) when it could not be read. */
  table(namespace: string | undefined, name: "filter" | "nat"): RuleTable | string;
  /** The namespace's IPv4 neighbour entries (`ip -json -4 neigh show`); empty when unknown. */
  neighbours(namespace: string | undefined): readonly Neighbour[];
  /** The namespace's IPv4 routing rules (`ip -json -4 rule show`); undefined when unknown. */
  rules(namespace: string | undefined): readonly IpRule[] | undefined;
  /** Every IPv4 route of every table (`ip -4 -json route show table all`). */
  routes(namespace: string | undefined): readonly TableRoute[];
  /** The namespace's nftables ruleset, parsed; a string when it could not be read. */
  nft(namespace: string | undefined): NftRuleset | string;
}

/** The facts in a snapshot taken with the `nsids` and `sysctl` sections. Pure. */
export function factsFromSnapshot(snapshot: HostSnapshot): HostFacts {
  const world = worldFromSnapshot(snapshot);
  const dumpOf = (ns: string | undefined): NamespaceDump | undefined =>
    ns === undefined ? snapshot.own : snapshot.namespaces.get(ns);
  const sysctls = new Map<string | undefined, Map<string, string>>();
  const tables = new Map<string, RuleTable | string>();

  const sysctlsOf = (ns: string | undefined): Map<string, string> => {
    let m = sysctls.get(ns);
    if (!m) {
      m = new Map();
      const out = dumpOf(ns)?.sections.sysctl;
      if (out?.exitCode === 0) {
        for (const line of out.stdout.split("\n")) {
          const at = line.indexOf(" ");
          if (at > 0) m.set(line.slice(0, at), line.slice(at + 1).trim());
        }
      }
      sysctls.set(ns, m);
    }
    return m;
  };

  const json = <T>(
    ns: string | undefined,
    section: "neigh" | "rule" | "route4",
  ): T[] | undefined => {
    const out = dumpOf(ns)?.sections[section];
    if (out?.exitCode !== 0) return undefined;
    try {
      return parseJsonList<T>(out.stdout);
    } catch {
      return undefined;
    }
  };
  const nfts = new Map<string | undefined, NftRuleset | string>();

  return {
    world,
    neighbours: (ns) => json<Neighbour>(ns, "neigh") ?? [],
    rules: (ns) => json<IpRule>(ns, "rule"),
    routes: (ns) => json<TableRoute>(ns, "route4") ?? [],
    nft: (ns) => {
      let r = nfts.get(ns);
      if (r === undefined) {
        const out = dumpOf(ns)?.sections.ruleset;
        if (!out) r = "the host snapshot holds no nftables ruleset";
        else if (out.exitCode !== 0) r = out.stderr.trim() || `exit ${out.exitCode}`;
        else {
          try {
            r = parseNftRuleset(out.stdout);
          } catch (e) {
            r = `cannot parse nft -j list ruleset: ${(e as Error).message}`;
          }
        }
        nfts.set(ns, r);
      }
      return r;
    },
    sysctl: (ns, file) => sysctlsOf(ns).get(file),
    ipForward: (ns) => {
      const out = dumpOf(ns)?.sections.ip_forward;
      return out?.exitCode === 0 && out.stdout.trim() === "1";
    },
    table: (ns, name) => {
      const key = `${ns ?? ""}\0${name}`;
      let t = tables.get(key);
      if (t === undefined) {
        const dump = dumpOf(ns);
        const out = dump?.sections[name];
        t = !out
          ? dump?.unreachable?.stderr || "the host snapshot holds no output for it"
          : out.exitCode === 0
            ? parseRuleTable(out.stdout)
            : out.stderr.trim() || `exit ${out.exitCode}`;
        tables.set(key, t);
      }
      return t;
    },
  };
}

/** Reads a host's facts: one command, `readHostSnapshot` with the doctor's extra sections. */
export async function readFacts(host: Host): Promise<HostFacts> {
  return factsFromSnapshot(
    await readHostSnapshot(host, { extra: ["nsids", "sysctl", "neigh", "rule", "ruleset"] }),
  );
}
