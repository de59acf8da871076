/**
 * Native nftables, evaluated for one packet: `nft -j list ruleset` parsed,
 * and the base chains of family ip and inet at a hook walked in priority
 * order, as the kernel would (an accept ends one base chain, a drop ends
 * them all). Matches understood: iifname/oifname (and iif/oif), ip
 * saddr/daddr (addresses, prefixes, ranges, anonymous and simple named sets),
 * ip protocol, meta l4proto, tcp/udp/th dport and sport, icmp type, ct state;
 * verdict maps (`vmap`, anonymous or named) keyed by any of those;
 * statements counter/log/comment; verdicts accept, drop, reject, jump, goto,
 * return. A rule using anything else is "not evaluated": treated as not
 * matching, and listed, so the verdict says how sure it is. A drop that such
 * a rule might have prevented (it came first and could accept, jump, or
 * change the packet) is marked `unsure`: callers warn instead of failing.
 *
 * iptables-nft's own tables (ip filter, nat, mangle, raw, security) are left
 * to the iptables evaluator, which reads them through `iptables -S`.
 * Pure: no I/O.
 */

import ipaddr from "ipaddr.js";
import type { Packet } from "./netfilter";

/** One chain of the ruleset; `hook` set for a base chain. */
export interface NftChain {
  readonly family: string;
  readonly table: string;
  readonly name: string;
  readonly type?: string;
  readonly hook?: string;
  readonly prio?: number;
  readonly policy?: string;
  readonly rules: NftRule[];
}

/** One rule: its expressions and a text close to what `nft list` prints. */
export interface NftRule {
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  readonly handle: number;
  readonly expr: readonly Record<string, unknown>[];
  readonly text: string;
}

/** A parsed ruleset. */
export interface NftRuleset {
  /** Every chain, keyed `family table name`. */
  readonly chains: ReadonlyMap<string, NftChain>;
  /** Named sets' and maps' elements (a map's as `[key, data]` pairs), keyed `family table name`. */
  readonly sets: ReadonlyMap<string, readonly unknown[]>;
}

/** The tables iptables-nft keeps in family ip: its own evaluator reads them. */
export const IPTABLES_TABLES = new Set(["filter", "nat", "mangle", "raw", "security"]);

const key = (family: string, table: string, name: string) => `${family} ${table} ${name}`;

/** Parses `nft -j list ruleset`. Pure; throws on text that is not its JSON. */
export function parseNftRuleset(stdout: string): NftRuleset {
  const text = stdout.trim();
  const chains = new Map<string, NftChain>();
  const sets = new Map<string, readonly unknown[]>();
  if (!text) return { chains, sets };
  const doc = JSON.parse(text) as { nftables?: Record<string, Record<string, unknown>>[] };
  const rules: NftRule[] = [];
  for (const item of doc.nftables ?? []) {
    if (item.chain) {
      const c = item.chain as Record<string, unknown>;
      chains.set(key(String(c.family), String(c.table), String(c.name)), {
        family: String(c.family),
        table: String(c.table),
        name: String(c.name),
        ...(typeof c.type === "string" ? { type: c.type } : {}),
        ...(typeof c.hook === "string" ? { hook: c.hook } : {}),
        ...(typeof c.prio === "number" ? { prio: c.prio } : {}),
        ...(typeof c.policy === "string" ? { policy: c.policy } : {}),
        rules: [],
      });
    } else if (item.set || item.map) {
      const s = (item.set ?? item.map) as Record<string, unknown>;
      sets.set(
        key(String(s.family), String(s.table), String(s.name)),
        Array.isArray(s.elem) ? (s.elem as unknown[]) : [],
      );
    } else if (item.rule) {
      const r = item.rule as Record<string, unknown>;
      const expr = Array.isArray(r.expr) ? (r.expr as Record<string, unknown>[]) : [];
      rules.push({
        family: String(r.family),
        table: String(r.table),
        chain: String(r.chain),
        handle: Number(r.handle),
        expr,
        text: expr.map(exprText).join(" "),
      });
    }
  }
  for (const r of rules) chains.get(key(r.family, r.table, r.chain))?.rules.push(r);
  return { chains, sets };
}

/**
 * The base chains that filter IPv4 (or, for `arp`, ARP) at `hook`, in the
 * order the kernel runs them. Pure.
 */
export function baseChains(
  rs: NftRuleset,
  hook: string,
  family: "ip" | "arp" | "bridge" = "ip",
): NftChain[] {
  return [...rs.chains.values()]
    .filter(
      (c) =>
        c.hook === hook &&
        (c.type === "filter" || c.type === "route") &&
        (family !== "ip"
          ? c.family === family
          : c.family === "inet" || (c.family === "ip" && !IPTABLES_TABLES.has(c.table))),
    )
    .sort((a, b) => (a.prio ?? 0) - (b.prio ?? 0));
}

/** The outcome at one hook. */
export interface NftVerdict {
  readonly verdict: "accept" | "drop";
  /** The base chain that dropped (or the last that accepted). */
  readonly chain?: NftChain;
  /** The rule that decided, or `policy drop` of the chain. */
  readonly by: string;
  /** Rules passed over because they use expressions this evaluator does not understand. */
  readonly notEvaluated: readonly NftRule[];
  /**
   * For a drop: the not-evaluated rules met before it that could have let the
   * packet through (in the chain that dropped, any but a plain drop or reject;
   * in an earlier base chain, one that jumps or changes the packet). Non-empty
   * means the drop is a guess, not a finding.
   */
  readonly unsure: readonly NftRule[];
}

type Outcome = { v: "accept" | "drop" | "return"; by: string };

/** Runs every base chain at `hook` for the packet: the first drop or reject decides. Pure. */
export function evaluateHook(
  rs: NftRuleset,
  hook: string,
  p: Packet,
  family: "ip" | "arp" | "bridge" = "ip",
): NftVerdict {
  const notEvaluated: NftRule[] = [];
  let last: { chain: NftChain; by: string } | undefined;
  for (const chain of baseChains(rs, hook, family)) {
    const before = notEvaluated.length;
    const o = runChain(rs, chain, p, notEvaluated, 0);
    const by =
      o.v === "return"
        ? `policy ${chain.policy ?? "accept"} of ${chainLabel(chain)}`
        : `${o.by} (in ${chainLabel(chain)})`;
    const v = o.v === "return" ? (chain.policy === "drop" ? "drop" : "accept") : o.v;
    if (v === "drop") {
      // In the chain that dropped, a rule that might accept, jump or change the packet could
      // have prevented it; in an earlier base chain only one that changes the packet could.
      const unsure = [
        ...notEvaluated.slice(0, before).filter((r) => !onlyVerdicts(r)),
        ...notEvaluated.slice(before).filter((r) => !onlyDrops(r)),
      ];
      return { verdict: "drop", chain, by, notEvaluated, unsure };
    }
    last = { chain, by };
  }
  return {
    verdict: "accept",
    ...(last ? { chain: last.chain } : {}),
    by: last?.by ?? "no base chain",
    notEvaluated,
    unsure: [],
  };
}

const PASSIVE = ["match", "counter", "log", "comment"];

/** A rule whose only effect, matched or not, is to drop: it cannot have let a packet through. */
function onlyDrops(r: NftRule): boolean {
  return r.expr.every((e) => [...PASSIVE, "drop", "reject"].includes(Object.keys(e)[0]!));
}

/**
 * A rule that only decides its own base chain (no statement changing the
 * packet): whatever it did, a later base chain sees the same packet.
 */
function onlyVerdicts(r: NftRule): boolean {
  const verdicts = ["drop", "reject", "accept", "return"];
  return r.expr.every((e) => [...PASSIVE, ...verdicts].includes(Object.keys(e)[0]!));
}

/** `inet foreign c_fwd`. Pure. */
export function chainLabel(c: NftChain): string {
  return `${c.family} ${c.table} ${c.name}`;
}

function runChain(
  rs: NftRuleset,
  chain: NftChain,
  p: Packet,
  notEvaluated: NftRule[],
  depth: number,
): Outcome {
  if (depth > 16) return { v: "return", by: "too deep" };
  for (const rule of chain.rules) {
    let matched: boolean | undefined = true;
    let verdict: Record<string, unknown> | undefined;
    for (const e of rule.expr) {
      const k = Object.keys(e)[0]!;
      if (k === "match") {
        const m = evalMatch(rs, rule, e.match as MatchExpr, p);
        if (m === false) {
          matched = false;
          break;
        }
        if (m === undefined) matched = undefined;
      } else if (["counter", "log", "comment"].includes(k)) {
        // No effect on the verdict.
      } else if (["accept", "drop", "reject", "jump", "goto", "return"].includes(k)) {
        verdict = e;
      } else if (k === "vmap") {
        const hit = evalVmap(rs, rule, e.vmap as VmapExpr, p);
        if (hit === false) {
          matched = false;
          break;
        }
        if (hit === undefined) matched = undefined;
        else verdict = hit;
      } else {
        matched = undefined;
      }
    }
    if (matched === false) continue;
    if (matched === undefined) {
      notEvaluated.push(rule);
      continue;
    }
    if (!verdict) continue;
    const k = Object.keys(verdict)[0]!;
    const by = rule.text;
    if (k === "accept") return { v: "accept", by };
    if (k === "drop" || k === "reject") return { v: "drop", by };
    if (k === "return") return { v: "return", by };
    const target = (verdict[k] as { target?: string } | null)?.target;
    const next = target ? rs.chains.get(key(chain.family, chain.table, target)) : undefined;
    if (!next) {
      notEvaluated.push(rule);
      continue;
    }
    const o = runChain(rs, next, p, notEvaluated, depth + 1);
    if (k === "goto") return o;
    if (o.v !== "return") return o;
  }
  return { v: "return", by: "end of chain" };
}

interface MatchExpr {
  readonly op: string;
  readonly left: Record<string, Record<string, unknown>>;
  readonly right: unknown;
}

const ICMP_TYPES: Record<string, number> = {
  "echo-reply": 0,
  "destination-unreachable": 3,
  "echo-request": 8,
  "time-exceeded": 11,
};

/** The packet's value for the match's left side; null when the packet lacks that header; undefined when unknown. */
function leftValue(
  left: MatchExpr["left"],
  p: Packet,
): { kind: "str" | "addr" | "num" | "ct"; value: string | number } | null | undefined {
  if (left.meta) {
    const k = left.meta.key;
    if (k === "iifname" || k === "iif") return { kind: "str", value: p.iif ?? "" };
    if (k === "oifname" || k === "oif") return { kind: "str", value: p.oif ?? "" };
    if (k === "l4proto") return { kind: "str", value: p.proto };
    if (k === "nfproto") return { kind: "str", value: "ipv4" };
    if (k === "protocol") return { kind: "str", value: "ip" };
    return undefined;
  }
  if (left.payload) {
    const { protocol, field } = left.payload as { protocol?: string; field?: string };
    if (protocol === "ip") {
      if (field === "saddr") return { kind: "addr", value: p.src };
      if (field === "daddr") return { kind: "addr", value: p.dst };
      if (field === "protocol") return { kind: "str", value: p.proto };
      return undefined;
    }
    if (protocol === "ether" && field === "type") return { kind: "str", value: "ip" };
    if (protocol === "tcp" || protocol === "udp" || protocol === "th") {
      if (protocol !== "th" && p.proto !== protocol) return null;
      if (p.proto === "icmp") return null;
      if (field === "dport")
        return p.dport === undefined ? undefined : { kind: "num", value: p.dport };
      return undefined;
    }
    if (protocol === "icmp") {
      if (p.proto !== "icmp") return null;
      if (field === "type") return { kind: "num", value: p.icmpType ?? 8 };
      return undefined;
    }
    return undefined;
  }
  if (left.ct && left.ct.key === "state") return { kind: "ct", value: p.ctstate.toLowerCase() };
  return undefined;
}

/** One element of a right side against a value: true, false, or undefined (not understood). */
function elementMatches(
  kind: "str" | "addr" | "num" | "ct",
  value: string | number,
  el: unknown,
): boolean | undefined {
  if (kind === "num") {
    if (typeof el === "number") return el === value;
    if (typeof el === "string" && el in ICMP_TYPES) return ICMP_TYPES[el] === value;
    if (el && typeof el === "object" && "range" in el) {
      const [a, b] = (el as { range: unknown[] }).range;
      return typeof a === "number" && typeof b === "number"
        ? (value as number) >= a && (value as number) <= b
        : undefined;
    }
    return undefined;
  }
  if (kind === "str" || kind === "ct") {
    if (typeof el !== "string") return undefined;
    if (kind === "str" && el.endsWith("*")) return String(value).startsWith(el.slice(0, -1));
    return el === value;
  }
  try {
    const a = ipaddr.IPv4.parse(String(value));
    if (typeof el === "string")
      return ipaddr.IPv4.isValidFourPartDecimal(el) ? a.toString() === el : undefined;
    if (el && typeof el === "object" && "prefix" in el) {
      const { addr, len } = (el as { prefix: { addr: string; len: number } }).prefix;
      return a.match(ipaddr.IPv4.parse(addr), len);
    }
    if (el && typeof el === "object" && "range" in el) {
      const [lo, hi] = (el as { range: string[] }).range.map((x) =>
        ipaddr.IPv4.parse(x).toByteArray(),
      );
      const v = a.toByteArray();
      const n = (b: number[]) => b.reduce((s, x) => s * 256 + x, 0);
      return n(v) >= n(lo!) && n(v) <= n(hi!);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

interface VmapExpr {
  readonly key: MatchExpr["left"];
  readonly data: unknown;
}

/**
 * A verdict map: the verdict of the element the packet's key matches, false
 * when none does, undefined when the key or an element is not understood.
 */
function evalVmap(
  rs: NftRuleset,
  rule: NftRule,
  m: VmapExpr,
  p: Packet,
): Record<string, unknown> | false | undefined {
  const left = leftValue(m.key, p);
  if (left === undefined) return undefined;
  if (left === null) return false;
  let pairs: unknown[];
  if (typeof m.data === "string" && m.data.startsWith("@")) {
    const map = rs.sets.get(key(rule.family, rule.table, m.data.slice(1)));
    if (!map) return undefined;
    pairs = [...map];
  } else if (m.data && typeof m.data === "object" && "set" in m.data) {
    pairs = (m.data as { set: unknown[] }).set;
  } else {
    return undefined;
  }
  let hit: Record<string, unknown> | undefined;
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) return undefined;
    const [el, data] = pair as [unknown, unknown];
    if (!data || typeof data !== "object") return undefined;
    const r = elementMatches(left.kind, left.value, el);
    if (r === undefined) return undefined;
    if (r && !hit) hit = data as Record<string, unknown>;
  }
  return hit ?? false;
}

function evalMatch(rs: NftRuleset, rule: NftRule, m: MatchExpr, p: Packet): boolean | undefined {
  const left = leftValue(m.left, p);
  if (left === undefined) return undefined;
  if (left === null) return false;
  let elements: unknown[];
  const right = m.right;
  if (typeof right === "string" && right.startsWith("@")) {
    const set = rs.sets.get(key(rule.family, rule.table, right.slice(1)));
    if (!set) return undefined;
    elements = [...set];
  } else if (right && typeof right === "object" && "set" in right) {
    elements = (right as { set: unknown[] }).set;
  } else if (Array.isArray(right)) {
    elements = right;
  } else {
    elements = [right];
  }
  let any = false;
  for (const el of elements) {
    const r = elementMatches(left.kind, left.value, el);
    if (r === undefined) return undefined;
    if (r) any = true;
  }
  if (m.op === "==" || m.op === "in") return any;
  if (m.op === "!=") return !any;
  return undefined;
}

/** An expression as `nft list` would print it, near enough for evidence. Pure. */
export function exprText(e: Record<string, unknown>): string {
  const k = Object.keys(e)[0]!;
  const v = e[k] as Record<string, unknown> | null;
  if (k === "match") {
    const m = v as unknown as MatchExpr;
    const op = m.op === "==" || m.op === "in" ? "" : ` ${m.op}`;
    return `${leftText(m.left)}${op} ${valueText(m.right)}`;
  }
  if (k === "jump" || k === "goto") return `${k} ${String((v as { target?: string })?.target)}`;
  if (k === "vmap") {
    const m = v as unknown as VmapExpr;
    const data =
      m.data && typeof m.data === "object" && "set" in m.data
        ? `{ ${(m.data as { set: unknown[] }).set
            .map((pair) =>
              Array.isArray(pair)
                ? `${valueText(pair[0])} : ${exprText(pair[1] as Record<string, unknown>)}`
                : valueText(pair),
            )
            .join(", ")} }`
        : valueText(m.data);
    return `${leftText(m.key)} vmap ${data}`;
  }
  if (k === "counter") return "counter";
  if (v === null || v === undefined) return k;
  return k === "reject" ? "reject" : `${k} …`;
}

function leftText(left: MatchExpr["left"]): string {
  if (left.meta)
    return ["iifname", "oifname", "iif", "oif"].includes(String(left.meta.key))
      ? String(left.meta.key)
      : `meta ${String(left.meta.key)}`;
  if (left.payload) return `${String(left.payload.protocol)} ${String(left.payload.field)}`;
  if (left.ct) return `ct ${String(left.ct.key)}`;
  return Object.keys(left)[0] ?? "?";
}

function valueText(v: unknown): string {
  if (typeof v === "string") return /^[A-Za-z]/.test(v) && !v.startsWith("@") ? `"${v}"` : v;
  if (typeof v === "number") return String(v);
  if (Array.isArray(v)) return v.map(valueText).join(",");
  if (v && typeof v === "object") {
    if ("prefix" in v) {
      const { addr, len } = (v as { prefix: { addr: string; len: number } }).prefix;
      return `${addr}/${len}`;
    }
    if ("range" in v) return (v as { range: unknown[] }).range.map(valueText).join("-");
    if ("set" in v) return `{ ${(v as { set: unknown[] }).set.map(valueText).join(", ")} }`;
  }
  return JSON.stringify(v);
}
