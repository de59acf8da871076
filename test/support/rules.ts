/**
 * Firewall rule fixtures: the rules our resources write, spelled as the
 * tests expect them, written once. They are the tests' own words (not built
 * with the code under test), in the order `iptables -S` prints them back.
 */

import type { TaggedRule } from "../../provider/host/iptables";

/**
 * A NatRule's rule after its chain: `-s SOURCE [-o OUT] -m comment --comment TAG -j MASQUERADE`.
 */
export function masqueradeSpec(source: string, tag: string, outInterface?: string): string[] {
  return [
    ...["-s", source],
    ...(outInterface ? ["-o", outInterface] : []),
    ...["-m", "comment", "--comment", tag],
    ...["-j", "MASQUERADE"],
  ];
}

/** A bridge's forwarding rule after its chain: `-i BR -o BR -m comment --comment TAG -j ACCEPT`. */
export function forwardSpec(bridge: string, tag: string): string[] {
  return [...["-i", bridge, "-o", bridge], ...["-m", "comment", "--comment", tag], "-j", "ACCEPT"];
}

/** `iptables -w -t TABLE ARGS...` on the host, or inside namespace `ns` through `ip netns exec`. */
export function iptablesIn(ns: string | undefined, table: string, ...args: string[]): string[] {
  const argv = ["iptables", "-w", "-t", table, ...args];
  return ns ? ["ip", "netns", "exec", ns, ...argv] : argv;
}

/** A parsed rule that only its tag tells apart, for the functions that look at tags alone. */
export function taggedRule(tag: string, chain = "POSTROUTING"): TaggedRule {
  return { chain, spec: [], tag };
}
