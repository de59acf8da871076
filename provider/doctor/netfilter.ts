/**
 * Just enough of iptables to answer "does this packet pass?": a parser for
 * `iptables -S` output and an evaluator that walks a chain the way the kernel
 * would for one packet (jumps, gotos, RETURN, the policy). Matches it does not
 * understand (ipset, addrtype, marks, ...) are not guessed: such a rule is
 * treated as not matching and reported, so the verdict can say how sure it is.
 * Pure: no I/O.
 */

import { splitRuleLine } from "../host/iptables";
import { isIpv4 } from "./world";
import ipaddr from "ipaddr.js";

/** One table as `iptables -t TABLE -S` prints it. */
export interface RuleTable {
  /** Policies of the built-in chains. */
  readonly policies: ReadonlyMap<string, string>;
  /** Rules per chain, in order, as words after `-A CHAIN`. */
  readonly chains: ReadonlyMap<string, readonly RuleLine[]>;
}

/** One rule: its words and the line it came from. */
export interface RuleLine {
  readonly chain: string;
  readonly words: readonly string[];
  readonly text: string;
}

/** Parses `iptables -S` output. Pure. */
export function parseRuleTable(stdout: string): RuleTable {
  const policies = new Map<string, string>();
  const chains = new Map<string, RuleLine[]>();
  for (const raw of stdout.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const words = splitRuleLine(line);
    if (words[0] === "-P" && words.length >= 3) {
      policies.set(words[1]!, words[2]!);
      if (!chains.has(words[1]!)) chains.set(words[1]!, []);
    } else if (words[0] === "-N" && words.length >= 2) {
      if (!chains.has(words[1]!)) chains.set(words[1]!, []);
    } else if (words[0] === "-A" && words.length >= 2) {
      const chain = words[1]!;
      if (!chains.has(chain)) chains.set(chain, []);
      chains.get(chain)!.push({ chain, words: words.slice(2), text: line });
    }
  }
  return { policies, chains };
}

/** The packet being judged. Interface names as iptables sees them (for bridged traffic, the bridge). */
export interface Packet {
  readonly iif?: string;
  readonly oif?: string;
  /** For bridged traffic: the bridge ports it enters and leaves by (`-m physdev`). */
  readonly physIn?: string;
  readonly physOut?: string;
  readonly src: string;
  readonly dst: string;
  readonly proto: "icmp" | "tcp" | "udp";
  readonly dport?: number;
  /** ICMP type: 8 for an echo request, 0 for a reply. */
  readonly icmpType?: number;
  /** Conntrack state: NEW for the first packet, ESTABLISHED for a reply (the others for what-ifs). */
  readonly ctstate: "NEW" | "ESTABLISHED" | "RELATED" | "INVALID";
}

/** The outcome of a walk through a chain. */
export interface Verdict {
  /** ACCEPT, DROP, REJECT, or (in the nat table) MASQUERADE, SNAT, ... */
  readonly target: string;
  /** The rule line that decided, or `-P CHAIN POLICY`. */
  readonly by: string;
  /** True when it was the chain's policy. */
  readonly byPolicy: boolean;
  /** Rules with matches this evaluator does not understand, treated as not matching. */
  readonly uncertain: readonly RuleLine[];
}

/** Targets that end the walk, per table. Others (LOG, MARK, ...) let it continue. */
const TERMINAL: Record<string, ReadonlySet<string>> = {
  filter: new Set(["ACCEPT", "DROP", "REJECT"]),
  nat: new Set(["ACCEPT", "DROP", "MASQUERADE", "SNAT", "DNAT", "REDIRECT", "NETMAP"]),
};

const KNOWN_CONTINUING = new Set([
  "LOG",
  "NFLOG",
  "ULOG",
  "MARK",
  "CONNMARK",
  "TRACE",
  "CT",
  "TCPMSS",
  "CLASSIFY",
  "DSCP",
  "TOS",
  "TTL",
  "AUDIT",
  "CHECKSUM",
  "CONNSECMARK",
  "SECMARK",
  "TEE",
]);

type ChainResult = { kind: "verdict"; verdict: Verdict } | { kind: "return" };

/**
 * Walks `chain` of `table` for `packet`, as the kernel would: rules in order,
 * `-j CHAIN` and `-g CHAIN` into user chains, RETURN, and the built-in
 * chain's policy at the end. Pure.
 */
export function evaluateChain(
  table: RuleTable,
  chain: string,
  packet: Packet,
  tableName: "filter" | "nat" = "filter",
): Verdict {
  const uncertain: RuleLine[] = [];
  const terminal = TERMINAL[tableName]!;
  const walk = (name: string, depth: number): ChainResult => {
    if (depth > 32) return { kind: "return" };
    for (const rule of table.chains.get(name) ?? []) {
      const m = matchRule(rule.words, packet);
      if (m === "unknown") {
        uncertain.push(rule);
        continue;
      }
      if (!m) continue;
      const { target, gotoChain } = targetOf(rule.words);
      if (!target) continue;
      if (target === "RETURN") return { kind: "return" };
      if (terminal.has(target)) {
        return { kind: "verdict", verdict: { target, by: rule.text, byPolicy: false, uncertain } };
      }
      if (table.chains.has(target) && !table.policies.has(target)) {
        const r = walk(target, depth + 1);
        if (r.kind === "verdict") return r;
        if (gotoChain) return { kind: "return" };
        continue;
      }
      if (!KNOWN_CONTINUING.has(target)) uncertain.push(rule);
    }
    return { kind: "return" };
  };
  const r = walk(chain, 0);
  if (r.kind === "verdict") return r.verdict;
  const policy = table.policies.get(chain) ?? "ACCEPT";
  return { target: policy, by: `-P ${chain} ${policy}`, byPolicy: true, uncertain };
}

function targetOf(words: readonly string[]): { target?: string; gotoChain: boolean } {
  for (let i = 0; i < words.length; i++) {
    if (words[i] === "-j") return { target: words[i + 1], gotoChain: false };
    if (words[i] === "-g") return { target: words[i + 1], gotoChain: true };
  }
  return { gotoChain: false };
}

/** Options that take no value, and module options that take one, that do not affect matching. */
const IGNORED_WITH_VALUE = new Set([
  "--comment",
  "--log-prefix",
  "--log-level",
  "--to-ports",
  "--to-source",
  "--to-destination",
  "--reject-with",
  "--set-xmark",
  "--set-mark",
  "--mask",
  "--log-uid",
  "--nflog-group",
  "--nflog-prefix",
  "--random",
  "--to",
]);
const IGNORED_FLAGS = new Set([
  "--random",
  "--random-fully",
  "--persistent",
  "--log-tcp-options",
  "--log-ip-options",
  "--log-uid",
]);

/**
 * Whether one rule's matches hold for the packet: true, false, or "unknown"
 * when the rule uses a match this evaluator does not model. Pure.
 */
export function matchRule(words: readonly string[], p: Packet): boolean | "unknown" {
  let negate = false;
  let unknown = false;
  let result = true;
  const hold = (ok: boolean) => {
    if ((negate ? !ok : ok) === false) result = false;
    negate = false;
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const v = words[i + 1];
    switch (w) {
      case "!":
        negate = true;
        continue;
      case "-i":
      case "--in-interface":
        hold(ifaceMatches(v, p.iif));
        i++;
        break;
      case "-o":
      case "--out-interface":
        hold(ifaceMatches(v, p.oif));
        i++;
        break;
      case "-s":
      case "--source":
        hold(cidrMatches(v, p.src));
        i++;
        break;
      case "-d":
      case "--destination":
        hold(cidrMatches(v, p.dst));
        i++;
        break;
      case "-p":
      case "--protocol":
        hold(protoMatches(v, p.proto));
        i++;
        break;
      case "-f":
        hold(false); // our packet is never a later fragment
        break;
      case "-m":
      case "--match":
        i++;
        if (
          !["tcp", "udp", "icmp", "conntrack", "state", "comment", "physdev", "multiport"].includes(
            v ?? "",
          )
        ) {
          unknown = true;
        }
        break;
      case "--dport":
      case "--destination-port":
        hold(p.dport !== undefined && p.proto !== "icmp" && portMatches(v, p.dport));
        i++;
        break;
      case "--sport":
      case "--source-port":
        // The source port is ephemeral: a rule on it decides nothing we can know.
        unknown = true;
        i++;
        break;
      case "--dports":
        hold(p.dport !== undefined && (v ?? "").split(",").some((x) => portMatches(x, p.dport!)));
        i++;
        break;
      case "--icmp-type":
        hold(icmpTypeMatches(v, p));
        i++;
        break;
      case "--ctstate":
      case "--state":
        hold((v ?? "").split(",").includes(p.ctstate));
        i++;
        break;
      case "--physdev-in":
        hold(ifaceMatches(v, p.physIn));
        i++;
        break;
      case "--physdev-out":
        hold(ifaceMatches(v, p.physOut));
        i++;
        break;
      case "--physdev-is-bridged":
        hold(p.physIn !== undefined && p.physOut !== undefined);
        break;
      case "--physdev-is-in":
        hold(p.physIn !== undefined);
        break;
      case "--physdev-is-out":
        hold(p.physOut !== undefined);
        break;
      case "-j":
      case "-g":
        // The target and its options end the matches.
        return unknown ? (result ? "unknown" : false) : result;
      default:
        if (IGNORED_WITH_VALUE.has(w)) i++;
        else if (!IGNORED_FLAGS.has(w)) unknown = true;
        negate = false;
    }
  }
  // A rule that failed a known match cannot match, whatever the unknown ones say.
  if (!result) return false;
  return unknown ? "unknown" : true;
}

function ifaceMatches(pattern: string | undefined, name: string | undefined): boolean {
  if (pattern === undefined || name === undefined) return false;
  if (pattern.endsWith("+")) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

function cidrMatches(cidr: string | undefined, address: string): boolean {
  if (!cidr || !isIpv4(address)) return false;
  const [net, len] = cidr.includes("/") ? cidr.split("/") : [cidr, "32"];
  if (!isIpv4(net!)) return false;
  return ipaddr.IPv4.parse(address).match(ipaddr.IPv4.parse(net!), Number(len));
}

function protoMatches(proto: string | undefined, p: Packet["proto"]): boolean {
  const numbers: Record<string, string> = { "1": "icmp", "6": "tcp", "17": "udp" };
  const name = numbers[proto ?? ""] ?? proto;
  return name === "all" || name === "0" || name === p;
}

function portMatches(spec: string | undefined, port: number): boolean {
  if (!spec) return false;
  const [lo, hi] = spec.split(":");
  const low = lo === "" ? 0 : Number(lo);
  const high = hi === undefined ? low : hi === "" ? 65535 : Number(hi);
  return port >= low && port <= high;
}

function icmpTypeMatches(spec: string | undefined, p: Packet): boolean {
  if (p.proto !== "icmp") return false;
  const names: Record<string, number> = { "echo-request": 8, "echo-reply": 0 };
  if (spec === "any") return true;
  const type = names[spec ?? ""] ?? Number((spec ?? "").split("/")[0]);
  return type === (p.icmpType ?? 8);
}

/**
 * How sure a verdict is: rules this evaluator could not read that would have
 * decided otherwise, had they matched. Pure.
 */
export function doubtfulRules(verdict: Verdict): RuleLine[] {
  const accepted = verdict.target === "ACCEPT";
  return verdict.uncertain.filter((r) => {
    const t = targetOf(r.words).target;
    if (!t) return false;
    if (t === "ACCEPT") return !accepted;
    if (t === "DROP" || t === "REJECT") return accepted;
    return true; // a jump we could not follow could lead anywhere
  });
}
