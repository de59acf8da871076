/**
 * Native nftables at the hooks the packet passes: output (and postrouting)
 * at the source, prerouting, forward and postrouting where it is routed (the
 * first packet and the reply), prerouting and input at the destination.
 * Only namespaces with base chains of their own are checked (iptables-nft's
 * tables are the iptables checks' part); rules the evaluator does not
 * understand are listed as not evaluated, never taken for an accept; and a
 * drop that one of them, coming first, might have prevented is a warning
 * naming that rule, never a failure.
 * Checks `nft.output`, `nft.forward`, `nft.input`, and `nft.bridge` for the
 * bridge family on a bridge the path crosses.
 */

import { inNamespace } from "../../host/ip";
import { clip } from "../evidence";
import type { Packet } from "../netfilter";
import { type NftChain, type NftRule, baseChains, chainLabel, evaluateHook } from "../nftrules";
import { type WalkState, record } from "../state";
import { nsLabel } from "../types";
import { packetBase } from "./filter";

/** Which way: the first packet, or the reply coming back through the same namespace. */
interface Direction {
  readonly label: string;
  readonly packet: Packet;
  /** The reply: fixed by letting established traffic through. */
  readonly reply: boolean;
}

const IIF_HOOKS = new Set(["prerouting", "input", "forward"]);
const OIF_HOOKS = new Set(["forward", "output", "postrouting"]);

/**
 * Evaluates `hooks` of `ns` for the packet (and, at a router, its reply).
 * False (and a failure recorded) when a base chain drops it.
 */
export function checkNft(
  w: WalkState,
  ns: string | undefined,
  id: "nft.output" | "nft.forward" | "nft.input",
  hooks: readonly string[],
  ifs: { iif?: string; oif?: string },
): boolean {
  const rs = w.facts.nft(ns);
  const title = `nftables in ${nsLabel(ns)} lets ${w.srcAddr} → ${w.dst} through (${hooks.join(", ")})`;
  if (typeof rs === "string") {
    // No nft on the host, or no nf_tables in its kernel: no native rule can be there.
    if (/not found|no such file|exit 127|holds no|not supported/i.test(rs)) return true;
    record(w, "warn", id, ns, title, `cannot read nftables (not evaluated): ${rs}`);
    return true;
  }
  const chains = hooks.flatMap((h) => baseChains(rs, h));
  if (chains.length === 0) return true;
  const base = packetBase(w);
  const dirs: Direction[] = [
    {
      label: `${w.srcAddr} → ${w.dst}`,
      packet: { ...base, ...ifs, ctstate: "NEW" },
      reply: false,
    },
  ];
  if (id === "nft.forward") {
    dirs.push({
      label: `reply ${w.dst} → ${w.srcAddr}`,
      packet: {
        ...base,
        src: w.dst,
        dst: w.srcAddr,
        icmpType: 0,
        dport: undefined,
        iif: ifs.oif,
        oif: ifs.iif,
        ctstate: "ESTABLISHED",
      },
      reply: true,
    });
  }
  const lines: string[] = [];
  const fixes: string[][] = [];
  const notEvaluated: NftRule[] = [];
  let dropped = false;
  for (const dir of dirs) {
    for (const hook of hooks) {
      if (baseChains(rs, hook).length === 0) continue;
      const v = evaluateHook(rs, hook, hookPacket(dir.packet, hook));
      notEvaluated.push(...v.notEvaluated);
      lines.push(`${dir.label} at ${hook}: ${v.verdict} by ${v.by}${unsureNote(v.unsure)}`);
      if (v.verdict === "drop" && v.chain && v.unsure.length === 0) {
        dropped = true;
        fixes.push(acceptRule(ns, v.chain, hook, dir, w));
      }
    }
  }
  const listing = chains
    .map(
      (c) =>
        `${chainLabel(c)}: hook ${c.hook} priority ${c.prio ?? 0} policy ${c.policy ?? "accept"}${c.rules.length ? `\n  ${c.rules.map((r) => r.text).join("\n  ")}` : ""}`,
    )
    .join("\n");
  const unsure = [...new Set(notEvaluated)];
  const unsureText =
    unsure.length > 0
      ? `\nnot evaluated (expressions the doctor does not understand; taken as not matching):\n  ${unsure.map((r) => `${r.family} ${r.table} ${r.chain}: ${r.text}`).join("\n  ")}`
      : "";
  const evidence = `$ ${inNamespace(ns, ["nft", "list", "ruleset"]).join(" ")} (base chains at ${hooks.join(", ")})\n${clip(listing)}\n${lines.join("\n")}${unsureText}`;
  if (dropped) {
    record(w, "fail", id, ns, title, evidence, fixes);
    return false;
  }
  record(w, unsure.length > 0 ? "warn" : "ok", id, ns, title, evidence);
  return true;
}

/** For a drop a not-evaluated rule before it might have prevented: which rule, so the reader can judge. */
function unsureNote(unsure: readonly NftRule[]): string {
  if (unsure.length === 0) return "";
  const rules = [...new Set(unsure)].map((r) => `${r.family} ${r.table} ${r.chain}: ${r.text}`);
  return ` (unsure: not evaluated before it, and it might let the packet through: ${rules.join("; ")})`;
}

/** The packet as a hook sees it: no incoming interface on the way out, no outgoing one on the way in. */
function hookPacket(p: Packet, hook: string): Packet {
  return {
    ...p,
    iif: IIF_HOOKS.has(hook) ? p.iif : undefined,
    oif: OIF_HOOKS.has(hook) ? p.oif : undefined,
  };
}

/** `nft insert rule FAMILY TABLE CHAIN MATCH... accept`: first in the base chain that dropped. */
function acceptRule(
  ns: string | undefined,
  chain: NftChain,
  hook: string,
  dir: Direction,
  w: WalkState,
): string[] {
  const p = hookPacket(dir.packet, hook);
  const match: string[] = [];
  if (p.iif) match.push("iifname", JSON.stringify(p.iif));
  if (p.oif) match.push("oifname", JSON.stringify(p.oif));
  if (dir.reply) match.push("ct", "state", "established,related");
  else match.push("ip", "saddr", w.srcAddr, "ip", "daddr", w.dst);
  return inNamespace(ns, [
    "nft",
    "insert",
    "rule",
    chain.family,
    chain.table,
    chain.name,
    ...match,
    "accept",
  ]);
}

/**
 * nftables' `bridge` family on a bridge the path crosses: the frame comes in
 * by `inPort` and leaves by `outPort` (forward), or, when the bridge itself
 * holds the next hop, goes up to it (input); the reply comes back the other
 * way. Check `nft.bridge`.
 */
export function checkNftBridge(
  w: WalkState,
  ns: string | undefined,
  bridge: string,
  inPort: string,
  outPort: string | undefined,
): boolean {
  const rs = w.facts.nft(ns);
  if (typeof rs === "string") return true;
  const hooks = outPort
    ? ["prerouting", "forward", "postrouting"]
    : ["prerouting", "input", "output", "postrouting"];
  if (hooks.every((h) => baseChains(rs, h, "bridge").length === 0)) return true;
  const base = packetBase(w);
  const steps: { hook: string; label: string; packet: Packet }[] = [];
  for (const hook of hooks) {
    if (!outPort && (hook === "output" || hook === "postrouting")) {
      steps.push({
        hook,
        label: `reply ${w.dst} → ${w.srcAddr} to ${inPort}`,
        packet: {
          ...base,
          src: w.dst,
          dst: w.srcAddr,
          icmpType: 0,
          oif: inPort,
          ctstate: "ESTABLISHED",
        },
      });
      continue;
    }
    steps.push({
      hook,
      label: `${w.srcAddr} → ${w.dst} from ${inPort}${outPort ? ` to ${outPort}` : ""}`,
      packet: { ...base, iif: inPort, ...(outPort ? { oif: outPort } : {}), ctstate: "NEW" },
    });
    if (outPort) {
      steps.push({
        hook,
        label: `reply ${w.dst} → ${w.srcAddr} from ${outPort} to ${inPort}`,
        packet: {
          ...base,
          src: w.dst,
          dst: w.srcAddr,
          icmpType: 0,
          iif: outPort,
          oif: inPort,
          ctstate: "ESTABLISHED",
        },
      });
    }
  }
  const lines: string[] = [];
  const fixes: string[][] = [];
  const unsure = new Set<NftRule>();
  for (const s of steps) {
    if (baseChains(rs, s.hook, "bridge").length === 0) continue;
    const p = hookPacket(s.packet, s.hook);
    const v = evaluateHook(rs, s.hook, p, "bridge");
    v.notEvaluated.forEach((r) => unsure.add(r));
    lines.push(`${s.label} at ${s.hook}: ${v.verdict} by ${v.by}${unsureNote(v.unsure)}`);
    if (v.verdict === "drop" && v.chain && v.unsure.length === 0) {
      fixes.push(
        inNamespace(ns, [
          "nft",
          "insert",
          "rule",
          "bridge",
          v.chain.table,
          v.chain.name,
          ...(p.iif ? ["iifname", JSON.stringify(p.iif)] : []),
          ...(p.oif ? ["oifname", JSON.stringify(p.oif)] : []),
          "accept",
        ]),
      );
    }
  }
  const chains = hooks.flatMap((h) => baseChains(rs, h, "bridge"));
  const listing = chains
    .map(
      (c) =>
        `${chainLabel(c)}: hook ${c.hook} priority ${c.prio ?? 0} policy ${c.policy ?? "accept"}${c.rules.length ? `\n  ${c.rules.map((r) => r.text).join("\n  ")}` : ""}`,
    )
    .join("\n");
  const unsureText =
    unsure.size > 0
      ? `\nnot evaluated (taken as not matching):\n  ${[...unsure].map((r) => r.text).join("\n  ")}`
      : "";
  const title = `nftables' bridge family in ${nsLabel(ns)} lets the path through ${bridge}`;
  const evidence = `$ ${inNamespace(ns, ["nft", "list", "ruleset", "bridge"]).join(" ")}\n${clip(listing)}\n${lines.join("\n")}${unsureText}`;
  if (fixes.length > 0) {
    record(w, "fail", "nft.bridge", ns, title, evidence, [
      ...new Map(fixes.map((f) => [f.join(" "), f])).values(),
    ]);
    return false;
  }
  record(w, unsure.size > 0 ? "warn" : "ok", "nft.bridge", ns, title, evidence);
  return true;
}
