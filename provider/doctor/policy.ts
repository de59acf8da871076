/**
 * Policy routing and neighbour entries as the kernel lists them: `ip -json
 * rule show`, `ip -json route show table all`, `ip -json neigh show`. The
 * rule walk here only explains what `ip route get` decided (which rule sent
 * the packet where); the kernel's answer stays the verdict. Pure: no I/O.
 */

import ipaddr from "ipaddr.js";

/** One rule of `ip -json rule show`. */
export interface IpRule {
  readonly priority: number;
  /** `all` or an address; with `srclen`, a prefix. */
  readonly src?: string;
  readonly srclen?: number;
  readonly dst?: string;
  readonly dstlen?: number;
  readonly iif?: string;
  readonly oif?: string;
  readonly fwmark?: string;
  readonly fwmask?: string;
  /** Present (as null) for `not`. */
  readonly not?: null;
  readonly table?: string;
  /** `blackhole`, `prohibit`, `unreachable` (or absent for a lookup). */
  readonly action?: string;
  readonly goto?: number;
  readonly [other: string]: unknown;
}

/** One route of `ip -json route show table all`; no `table` means main. */
export interface TableRoute {
  readonly type?: string;
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly table?: string;
  readonly prefsrc?: string;
}

/** One entry of `ip -json neigh show`. */
export interface Neighbour {
  readonly dst: string;
  readonly dev: string;
  readonly lladdr?: string;
  readonly state?: readonly string[];
}

/** The packet a rule is asked about. `iif` is `lo` for a packet the namespace sends itself. */
export interface RulePacket {
  readonly src: string;
  readonly dst: string;
  readonly iif?: string;
  readonly oif?: string;
  readonly mark?: number;
}

/** Where the rules sent the packet. */
export interface RuleDecision {
  /** The rule that decided. */
  readonly rule: IpRule;
  /** `route`: a route of `table` was found; else what stopped the packet. */
  readonly kind: "route" | "blackhole" | "prohibit" | "unreachable" | "none";
  /** The table looked up (for `route`, and for a blocking route in a table). */
  readonly table?: string;
  /** The route found in `table`. */
  readonly route?: TableRoute;
  /** Rules passed over because they use selectors this walk does not evaluate (ports, uid, tos, ...). */
  readonly uncertain: readonly IpRule[];
}

const KNOWN_RULE_KEYS = new Set([
  "priority",
  "src",
  "srclen",
  "dst",
  "dstlen",
  "iif",
  "oif",
  "fwmark",
  "fwmask",
  "not",
  "table",
  "action",
  "goto",
  "flags",
  "protocol",
]);

/** True for the three rules every namespace starts with (local, main, default). Pure. */
export function isDefaultRule(r: IpRule): boolean {
  return (
    Object.keys(r).every((k) => ["priority", "src", "table", "protocol"].includes(k)) &&
    (r.src === undefined || r.src === "all") &&
    ((r.priority === 0 && r.table === "local") ||
      (r.priority === 32766 && r.table === "main") ||
      (r.priority === 32767 && r.table === "default"))
  );
}

/** True when the rules are more than the three defaults. Pure. */
export function hasPolicyRules(rules: readonly IpRule[] | undefined): boolean {
  return (rules ?? []).some((r) => !isDefaultRule(r));
}

function inPrefix(address: string, net: string | undefined, len: number | undefined): boolean {
  if (net === undefined || net === "all") return true;
  try {
    return ipaddr.IPv4.parse(address).match(ipaddr.IPv4.parse(net), len ?? 32);
  } catch {
    return false;
  }
}

/** Does the rule's selector match? undefined when it uses a selector this walk does not know. */
export function ruleMatches(r: IpRule, p: RulePacket): boolean | undefined {
  if (Object.keys(r).some((k) => !KNOWN_RULE_KEYS.has(k))) return undefined;
  let m =
    inPrefix(p.src, r.src, r.srclen) &&
    inPrefix(p.dst, r.dst, r.dstlen) &&
    (r.iif === undefined || r.iif === p.iif) &&
    (r.oif === undefined || r.oif === p.oif);
  if (m && r.fwmark !== undefined) {
    const mask = r.fwmask !== undefined ? Number(r.fwmask) : 0xffffffff;
    m = ((p.mark ?? 0) & mask) === (Number(r.fwmark) & mask);
  }
  return r.not !== undefined ? !m : m;
}

/** The route a table holds for `dst`: the longest prefix (broadcast and multicast aside). Pure. */
export function lookupTable(
  routes: readonly TableRoute[],
  table: string,
  dst: string,
): TableRoute | undefined {
  let best: TableRoute | undefined;
  let bestLen = -1;
  for (const r of routes) {
    if ((r.table ?? "main") !== table) continue;
    if (r.type === "broadcast" || r.type === "multicast" || r.type === "anycast") continue;
    const [net, len] = r.dst === "default" ? ["0.0.0.0", "0"] : r.dst.split("/");
    const n = len === undefined ? 32 : Number(len);
    if (n > bestLen && inPrefix(dst, net, n)) {
      best = r;
      bestLen = n;
    }
  }
  return best;
}

const BLOCKING = new Set(["blackhole", "prohibit", "unreachable"]);

/**
 * Walks the rules in priority order as the kernel does: the first whose
 * selector matches and whose table holds a route decides (a `throw` route or
 * no route goes on to the next rule). Undefined when no rule decides. Pure.
 */
export function decideRule(
  rules: readonly IpRule[],
  routes: readonly TableRoute[],
  p: RulePacket,
): RuleDecision | undefined {
  const uncertain: IpRule[] = [];
  const sorted = [...rules].sort((a, b) => a.priority - b.priority);
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i]!;
    const m = ruleMatches(r, p);
    if (m === undefined) {
      uncertain.push(r);
      continue;
    }
    if (!m) continue;
    if (r.action && BLOCKING.has(r.action)) {
      return { rule: r, kind: r.action as RuleDecision["kind"], uncertain };
    }
    if (r.goto !== undefined) {
      const target = r.goto;
      const at = sorted.findIndex((x) => x.priority >= target);
      if (at > i) i = at - 1;
      continue;
    }
    if (r.table === undefined) continue;
    const route = lookupTable(routes, r.table, p.dst);
    if (!route || route.type === "throw") continue;
    const kind =
      route.type && BLOCKING.has(route.type) ? (route.type as RuleDecision["kind"]) : "route";
    return { rule: r, kind, table: r.table, route, uncertain };
  }
  return undefined;
}

/** A rule as `ip rule show` prints it: `100: from 10.1.0.0/24 iif eth0 lookup 100`. Pure. */
export function ruleLine(r: IpRule): string {
  const parts: string[] = [`${r.priority}:`];
  if (r.not !== undefined) parts.push("not");
  parts.push(
    "from",
    r.src === undefined || r.src === "all" ? "all" : `${r.src}${r.srclen ? `/${r.srclen}` : ""}`,
  );
  if (r.dst !== undefined) parts.push("to", `${r.dst}${r.dstlen ? `/${r.dstlen}` : ""}`);
  if (r.fwmark !== undefined) parts.push("fwmark", r.fwmask ? `${r.fwmark}/${r.fwmask}` : r.fwmark);
  if (r.iif !== undefined) parts.push("iif", r.iif);
  if (r.oif !== undefined) parts.push("oif", r.oif);
  for (const [k, v] of Object.entries(r)) {
    if (!KNOWN_RULE_KEYS.has(k)) parts.push(k, String(v));
  }
  if (r.action) parts.push(r.action);
  else if (r.goto !== undefined) parts.push("goto", String(r.goto));
  else if (r.table !== undefined) parts.push("lookup", r.table);
  return parts.join(" ");
}

/** The entry for `address` on `dev`, if the namespace has one. Pure. */
export function neighbourOf(
  entries: readonly Neighbour[],
  address: string,
  dev: string,
): Neighbour | undefined {
  return entries.find((n) => n.dst === address && n.dev === dev);
}

/** True for an entry an administrator set (`nud permanent` or `noarp`): the kernel never re-resolves it. Pure. */
export function isStatic(n: Neighbour): boolean {
  return (n.state ?? []).some((s) => s === "PERMANENT" || s === "NOARP");
}

/**
 * The ARP reply mode the kernel applies on an interface: the larger of
 * `conf/all/arp_ignore` and `conf/IFACE/arp_ignore`. Pure.
 */
export function arpIgnoreMode(all: string | undefined, iface: string | undefined): number {
  return Math.max(Number(all) || 0, Number(iface) || 0);
}
