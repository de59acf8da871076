/**
 * The iptables backend of the firewall seam (see index.ts). Rules carry a
 * comment tag and are read back with `iptables -S`; every call waits for the
 * xtables lock (`-w`). The low-level reading and deleting of tagged rules is
 * in host/iptables.ts, which the doctor shares.
 */

import { CommandError } from "../errors";
import type { Host } from "../transport";
import {
  deleteTaggedRules,
  iptablesArgv,
  readTaggedRules,
  type TaggedRule,
} from "../host/iptables";
import type { Firewall, Masquerade, OwnedRule } from "./index";

/** The masquerade rule's spec after the chain, in the order `iptables -S` prints it back. */
export function masqueradeSpec(rule: Masquerade, tag: string): string[] {
  return [
    "-s",
    rule.source,
    ...(rule.outInterface ? ["-o", rule.outInterface] : []),
    "-m",
    "comment",
    "--comment",
    tag,
    "-j",
    "MASQUERADE",
  ];
}

/** Equivalent to: `[ip netns exec NS] iptables -w -t nat -A POSTROUTING -s SRC [-o OUT] -m comment --comment TAG -j MASQUERADE` */
export function planMasqueradeAppend(
  namespace: string | undefined,
  rule: Masquerade,
  tag: string,
): string[] {
  return iptablesArgv(namespace, "nat", "-A", "POSTROUTING", ...masqueradeSpec(rule, tag));
}

/** Equivalent to: `[ip netns exec NS] iptables -w -t filter -I FORWARD 1 -i BR -o BR -m comment --comment TAG -j ACCEPT` */
export function planBridgeAccept(
  namespace: string | undefined,
  bridge: string,
  tag: string,
): string[] {
  // Inserted first, so that it comes before the DROP rules a host may already have.
  return iptablesArgv(
    namespace,
    "filter",
    "-I",
    "FORWARD",
    "1",
    "-i",
    bridge,
    "-o",
    bridge,
    "-m",
    "comment",
    "--comment",
    tag,
    "-j",
    "ACCEPT",
  );
}

/** A rule of ours as `iptables -S` has it: its tag, and its `-s` and `-o` when it has them. */
export function ownedRule(rule: TaggedRule): OwnedRule {
  const word = (flag: string) => {
    const i = rule.spec.indexOf(flag);
    return i >= 0 ? rule.spec[i + 1] : undefined;
  };
  const source = word("-s");
  const outInterface = word("-o");
  return {
    tag: rule.tag,
    ...(source === undefined ? {} : { source }),
    ...(outInterface === undefined ? {} : { outInterface }),
  };
}

/** Runs a command; a failure throws with the command and the kernel's words. */
async function runOrThrow(host: Host, argv: string[]): Promise<void> {
  const r = await host.run(argv);
  if (r.exitCode !== 0) throw new CommandError(host.name, argv, r.exitCode, r.stdout, r.stderr);
}

/** The iptables backend. */
export const iptablesFirewall: Firewall = {
  name: "iptables",

  planMasquerade: planMasqueradeAppend,
  addMasquerade: (host, namespace, rule, tag) =>
    runOrThrow(host, planMasqueradeAppend(namespace, rule, tag)),
  async masquerades(reader, namespace) {
    return (await reader.taggedRules(namespace, "nat", "POSTROUTING"))?.map(ownedRule);
  },
  async assertMasqueradesReadable(host, namespace) {
    if (!(await readTaggedRules(host, namespace, "nat", "POSTROUTING"))) {
      // Throws with the command and the kernel's words ("Cannot open network namespace").
      await host.runOk(iptablesArgv(namespace, "nat", "-S", "POSTROUTING"));
    }
  },
  deleteMasquerades: (host, namespace, tag) => deleteTaggedRules(host, namespace, "nat", tag),

  planBridgeAccept,
  addBridgeAccept: async (host, namespace, bridge, tag) => {
    await host.runOk(planBridgeAccept(namespace, bridge, tag));
  },
  async forwardAccepts(reader, namespace) {
    return (await reader.taggedRules(namespace, "filter", "FORWARD"))?.map(ownedRule);
  },
  deleteForwardAccepts: (host, namespace, tag) => deleteTaggedRules(host, namespace, "filter", tag),
};
