/**
 * Policy routing: `ip rule` picks the table before any route is looked at,
 * by the packet's source, destination, incoming interface and mark. The walk
 * asks `ip route get` with those selectors (`from` at the source, `from` and
 * `iif` at a router); when the kernel then refuses the packet, the rule that
 * sent it there is named, with the rule's own words.
 * Check `route.rule`.
 */

import { quoteArgv } from "../../shell/quote";
import type { RouteAnswer } from "../evidence";
import { ipFix } from "../fixes";
import {
  type RuleDecision,
  type RulePacket,
  decideRule,
  hasPolicyRules,
  isDefaultRule,
  ruleLine,
} from "../policy";
import { type WalkState, record } from "../state";
import { nsLabel } from "../types";

/** True when `ns` has rules beyond the three defaults: then `ip route get` must be asked with every selector. */
export function policyRouted(w: WalkState, ns: string | undefined): boolean {
  return hasPolicyRules(w.facts.rules(ns));
}

/**
 * The kernel refused (or blackholed) the packet: when a rule of `ns` other
 * than the defaults decided, names it and returns true (a failure recorded).
 */
export function failByRule(
  w: WalkState,
  ns: string | undefined,
  packet: RulePacket,
  got: RouteAnswer,
): boolean {
  const rules = w.facts.rules(ns);
  if (!rules || !hasPolicyRules(rules)) return false;
  const d = decideRule(rules, w.facts.routes(ns), packet);
  if (!d || isDefaultRule(d.rule) || d.kind === "route") return false;
  record(
    w,
    "fail",
    "route.rule",
    ns,
    `the routing rules of ${nsLabel(ns)} let ${packet.src} → ${packet.dst} through`,
    `$ ${quoteArgv(ipArgvRule(ns))}\n${rules.map(ruleLine).join("\n")}\n$ ${quoteArgv(got.argv)}\n${got.said}\n${why(d, packet)}` +
      (d.uncertain.length > 0
        ? `\n(rules not evaluated, taken as not matching: ${d.uncertain.map((r) => r.priority).join(", ")})`
        : ""),
    [ipFix(ns, "rule", "del", "priority", String(d.rule.priority))],
  );
  return true;
}

function ipArgvRule(ns: string | undefined): string[] {
  return ipFix(ns, "rule", "show");
}

function why(d: RuleDecision, p: RulePacket): string {
  const selector = `${p.src} → ${p.dst}${p.iif ? ` coming in by ${p.iif}` : ""}`;
  if (d.table === undefined) {
    return `rule ${d.rule.priority} (${ruleLine(d.rule)}) matches ${selector} and ${d.kind}s it`;
  }
  return `rule ${d.rule.priority} (${ruleLine(d.rule)}) matches ${selector} and sends it to table ${d.table}, whose route for ${p.dst} is "${d.route?.type ?? ""} ${d.route?.dst ?? ""}": the main table is never consulted`;
}
