/**
 * Leaving the host: the path must not leave when the destination is here,
 * and a private source needs MASQUERADE (or SNAT) on the way out.
 * Checks `route` (for a destination on this host) and `nat.masquerade`.
 */

import { quoteArgv } from "../../shell/quote";
import { iptablesArgv } from "../../host/iptables";
import { clip } from "../evidence";
import { masqueradeFix } from "../fixes";
import { evaluateChain } from "../netfilter";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";
import { type Link, isPrivate } from "../world";
import { packetBase, srcNetwork } from "./filter";

/** The path leaves the host by `dev` of `ns`, at hop number `hop`. */
export function egress(w: WalkState, ns: string | undefined, dev: Link, hop: number): void {
  const last = w.path.at(-1);
  if (last?.note?.startsWith("leaves the host")) {
    // Already said where it leaves (through a VXLAN tunnel).
  } else if (last && last.namespace === ns && last.out === dev.name) {
    w.path[w.path.length - 1] = { ...last, note: "leaves the host" };
  } else {
    w.path.push({ namespace: ns, out: dev.name, note: "leaves the host" });
  }
  if (w.dstOnHost) {
    record(
      w,
      "fail",
      "route",
      ns,
      `the route to ${w.dst} stays on this host`,
      `${w.dst} is in ${nsLabel(w.dstNs)}, but ${nsLabel(ns)} sends it out by ${dev.name}`,
    );
    return;
  }
  if (hop === 0 && ns === w.srcNs) {
    pass(
      w,
      "nat.masquerade",
      ns,
      `no NAT is needed: ${nsLabel(ns)} sends from its own address`,
      `${w.srcAddr} leaves by ${dev.name} unchanged`,
    );
    return;
  }
  const table = w.facts.table(ns, "nat");
  const title = `${w.srcAddr} is masqueraded as it leaves ${nsLabel(ns)} by ${dev.name}`;
  if (typeof table === "string") {
    record(w, "warn", "nat.masquerade", ns, title, `cannot read the nat table: ${table}`);
    return;
  }
  const v = evaluateChain(
    table,
    "POSTROUTING",
    { ...packetBase(w), oif: dev.name, ctstate: "NEW" },
    "nat",
  );
  const listing = [
    `-P POSTROUTING ${table.policies.get("POSTROUTING") ?? "ACCEPT"}`,
    ...(table.chains.get("POSTROUTING") ?? []).map((l) => l.text),
  ].join("\n");
  if (v.target === "MASQUERADE" || v.target === "SNAT") {
    const to = v.target === "SNAT" ? snatTo(v.by) : dev.inet[0]?.address;
    if (to) w.natSource = to;
    pass(w, "nat.masquerade", ns, title, `${v.target} by ${v.by}`);
    return;
  }
  const next = last?.via ?? w.dst;
  const onward = w.onward?.(next);
  if (onward) {
    pass(
      w,
      "nat.masquerade",
      ns,
      `${w.srcAddr} leaves ${nsLabel(ns)} by ${dev.name} unchanged, into ${onward}`,
      `no SNAT rule matched; ${next} is on ${onward}, where the walk goes on (and checks the way back to ${w.srcAddr})`,
    );
    return;
  }
  if (!isPrivate(w.srcAddr)) {
    pass(
      w,
      "nat.masquerade",
      ns,
      `${w.srcAddr} needs no NAT (it is a public address)`,
      `no SNAT rule matched; ${listing}`,
    );
    return;
  }
  record(
    w,
    "fail",
    "nat.masquerade",
    ns,
    title,
    `$ ${quoteArgv(iptablesArgv(ns, "nat", "-S", "POSTROUTING"))}\n${clip(listing)}\nno MASQUERADE or SNAT matches ${w.srcAddr} → ${w.dst} out of ${dev.name} (${v.byPolicy ? "fell through to the policy" : `stopped at ${v.by}`}): replies to the private ${w.srcAddr} have no way back unless the far side routes ${srcNetwork(w)} to this host`,
    [masqueradeFix(ns, srcNetwork(w), dev.name)],
  );
}

/** The address of `-j SNAT --to-source ADDR[:PORTS]` in a rule line. Pure. */
function snatTo(rule: string): string | undefined {
  return /--to-source\s+([0-9.]+)/.exec(rule)?.[1];
}
