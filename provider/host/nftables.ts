/**
 * Our nftables table, `inet linuxnet`, as the host has it: the command that
 * lists it, and a pure parser of that command's JSON. Shared by the nftables
 * firewall backend (firewall/nftables.ts), the host snapshot and the readers.
 * Only this one table is ever read or written: other tables (firewalld's,
 * Docker's, iptables-nft's `ip nat`) are someone else's.
 */

import { inNamespace } from "./ip";

/** Our table's family and name. */
export const NFT_FAMILY = "inet";
export const NFT_TABLE = "linuxnet";

/** Equivalent to: `[ip netns exec NS] nft -j list table inet linuxnet` */
export function nftListTableArgv(namespace: string | undefined): string[] {
  return inNamespace(namespace, ["nft", "-j", "list", "table", NFT_FAMILY, NFT_TABLE]);
}

/** A base chain of our table as the host has it. */
export interface NftChainState {
  readonly name: string;
  readonly handle: number;
  readonly type?: string;
  readonly hook?: string;
  readonly priority?: number;
}

/** A rule of our table: its chain, its handle (what deletes it), its comment (our tag) and its expressions. */
export interface NftRuleState {
  readonly chain: string;
  readonly handle: number;
  readonly comment?: string;
  /** The rule's statements as `nft -j` prints them. */
  readonly expr: readonly unknown[];
}

/** Our table as one `nft -j list table` saw it; `exists: false` when the host has no such table. */
export interface NftTableState {
  readonly exists: boolean;
  readonly chains: readonly NftChainState[];
  readonly rules: readonly NftRuleState[];
}

/** The table a host without it has. */
export const NO_TABLE: NftTableState = { exists: false, chains: [], rules: [] };

/**
 * True when `nft list table` failed because the table is not there
 * ("Error: No such file or directory" and the command echoed back), not
 * because the namespace is gone or nft is missing.
 */
export function isNftTableAbsent(stderr: string): boolean {
  return /No such file or directory/.test(stderr) && /list table/.test(stderr);
}

/** True when the shell could not find `nft` (exit 127, "not found"). */
export function isNftMissing(exitCode: number, stderr: string): boolean {
  return exitCode === 127 || /nft: (command )?not found/.test(stderr);
}

/** What to tell a user whose host has no `nft`. */
export const NFT_MISSING_HINT =
  'the host has no nft command: install nftables there, or give this resource firewall: "iptables"';

/** Parses `nft -j list table inet linuxnet` output. Pure. Entries of other tables are ignored. */
export function parseNftTable(stdout: string): NftTableState {
  const text = stdout.trim();
  if (!text) return NO_TABLE;
  const doc = JSON.parse(text) as { nftables?: Record<string, unknown>[] };
  let exists = false;
  const chains: NftChainState[] = [];
  const rules: NftRuleState[] = [];
  const ours = (e: Record<string, unknown>) => e.family === NFT_FAMILY && e.table === NFT_TABLE;
  for (const entry of doc.nftables ?? []) {
    const table = entry.table as Record<string, unknown> | undefined;
    if (table && table.family === NFT_FAMILY && table.name === NFT_TABLE) exists = true;
    const chain = entry.chain as Record<string, unknown> | undefined;
    if (chain && ours(chain)) {
      chains.push({
        name: String(chain.name),
        handle: Number(chain.handle),
        ...(typeof chain.type === "string" ? { type: chain.type } : {}),
        ...(typeof chain.hook === "string" ? { hook: chain.hook } : {}),
        ...(typeof chain.prio === "number" ? { priority: chain.prio } : {}),
      });
    }
    const rule = entry.rule as Record<string, unknown> | undefined;
    if (rule && ours(rule)) {
      rules.push({
        chain: String(rule.chain),
        handle: Number(rule.handle),
        ...(typeof rule.comment === "string" ? { comment: rule.comment } : {}),
        expr: Array.isArray(rule.expr) ? rule.expr : [],
      });
    }
  }
  return { exists, chains, rules };
}

/** One `match` expression of a rule: what it looks at (`left`) and the value (`right`). */
interface NftMatch {
  readonly left: Record<string, unknown>;
  readonly right: unknown;
}

function matches(rule: NftRuleState): NftMatch[] {
  return rule.expr
    .map((e) => (e as { match?: NftMatch }).match)
    .filter((m): m is NftMatch => m !== undefined && typeof m.left === "object" && m.left !== null);
}

/** The value a rule matches on `meta KEY` (`iifname`, `oifname`), when it has such a match. */
export function metaMatch(rule: NftRuleState, key: string): string | undefined {
  const m = matches(rule).find((x) => (x.left.meta as { key?: string } | undefined)?.key === key);
  return typeof m?.right === "string" ? m.right : undefined;
}

/**
 * The address or network a rule matches on `ip|ip6 saddr|daddr`, as CIDR
 * (`10.0.0.0/24`; a single address as `/32` or `/128`), when it has one.
 */
export function addressMatch(rule: NftRuleState, field: "saddr" | "daddr"): string | undefined {
  for (const m of matches(rule)) {
    const payload = m.left.payload as { protocol?: string; field?: string } | undefined;
    if (payload?.field !== field || (payload.protocol !== "ip" && payload.protocol !== "ip6")) {
      continue;
    }
    const full = payload.protocol === "ip" ? 32 : 128;
    if (typeof m.right === "string") return `${m.right}/${full}`;
    const prefix = (m.right as { prefix?: { addr?: string; len?: number } }).prefix;
    if (prefix?.addr !== undefined && prefix.len !== undefined) {
      return `${prefix.addr}/${prefix.len}`;
    }
  }
  return undefined;
}

/** The destination port a rule matches (`tcp dport 8080`), with its protocol, when it has one. */
export function portMatch(
  rule: NftRuleState,
): { readonly protocol: string; readonly port: number } | undefined {
  for (const m of matches(rule)) {
    const payload = m.left.payload as { protocol?: string; field?: string } | undefined;
    if (payload?.field === "dport" && typeof payload.protocol === "string") {
      if (typeof m.right === "number") return { protocol: payload.protocol, port: m.right };
    }
  }
  return undefined;
}

/** The statement that ends a rule: `masquerade`, `accept`, `dnat`...; its argument when it has one. */
export function verdictOf(rule: NftRuleState): { readonly kind: string; readonly arg: unknown } {
  for (const e of rule.expr) {
    if (!e || typeof e !== "object") continue;
    const [key] = Object.keys(e);
    if (key === undefined || key === "match" || key === "counter") continue;
    return { kind: key, arg: (e as Record<string, unknown>)[key] };
  }
  return { kind: "", arg: undefined };
}

/** Where a `dnat` rule sends traffic (`10.0.0.2:80`, `[fd00::2]:80`, `10.0.0.2`), when it is one. */
export function dnatTarget(rule: NftRuleState): string | undefined {
  const v = verdictOf(rule);
  if (v.kind !== "dnat" || !v.arg || typeof v.arg !== "object") return undefined;
  const { family, addr, port } = v.arg as { family?: string; addr?: unknown; port?: unknown };
  if (typeof addr !== "string") return undefined;
  const host = family === "ip6" || addr.includes(":") ? `[${addr}]` : addr;
  return typeof port === "number" ? `${host}:${port}` : addr;
}
