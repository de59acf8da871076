/**
 * IPv4 forwarding, shared by every kind whose rules need it (NatRule,
 * PortForward) and by Sysctl. Forwarding is one setting per namespace: the
 * first of our rules to turn it on records the value it found on the host
 * (host/forwarding.ts), and the last of them to go puts that value back,
 * whatever order rules of whichever kind come and go in, and even after our
 * rules were flushed behind our back. A rule that needs forwarding carries
 * `:fwd` after its id in its tag, so "who still needs it" is read from the
 * host's rules, not from any state.
 *
 * A Sysctl of `net.ipv4.ip_forward` is the other owner of the value: while
 * one holds it, our rules neither record nor restore it (and refuse to start
 * when it holds forwarding off); see sysctl.ts for the other direction.
 */

import {
  readForwardingRecord,
  readIpForward,
  removeForwardingRecord,
  setIpForwardArgv,
  writeForwardingRecord,
} from "../host/forwarding";
import { liveReader } from "../host/reader";
import { FORWARDING_KEYS, readSysctlClaim } from "../host/sysctl";
import type { Host } from "../transport";
import { firewallFor, tagged } from "../firewall";

/** The tags of our rules that need forwarding; `:fwd0`/`:fwd1` are NatRule's older tags. */
const NEEDS_FORWARDING = /^linuxnet:(?:nat|pf)-[0-9a-f]+:fwd[01]?$/;

/** True when one of our rules, other than `exceptTag`'s, needs forwarding. */
export function othersNeedForwarding(
  rules: readonly { readonly tag: string }[],
  exceptTag: string | undefined,
): boolean {
  return rules.some(
    (rule) => !(exceptTag && tagged(rule, exceptTag)) && NEEDS_FORWARDING.test(rule.tag),
  );
}

/** Creates and deletes that touch one namespace's forwarding take turns (see lock.ts). */
export function forwardingLockKey(host: string, namespace: string | undefined): string {
  return `forwarding ${host} ${namespace ?? "@host"}`;
}

/** Where, for messages: ` in ns-blue`, or nothing for the host itself. */
function where(namespace: string | undefined): string {
  return namespace ? ` in ${namespace}` : "";
}

/** The id of a Sysctl that holds the namespace's forwarding, if one does. */
export async function forwardingSysctl(
  host: Host,
  namespace: string | undefined,
): Promise<string | undefined> {
  for (const key of FORWARDING_KEYS) {
    const id = await readSysctlClaim(host, namespace, key);
    if (id) return id;
  }
  return undefined;
}

/**
 * Turns forwarding on for a rule about to be added, recording the value found
 * when ours are the first rules to need it; `undo` gets the steps that take
 * this back. Returns the value from before our first rule (0 or 1). Call it
 * inside `withLock(forwardingLockKey(...))`.
 */
export async function holdForwarding(
  host: Host,
  namespace: string | undefined,
  undo: (step: () => Promise<unknown>) => void,
): Promise<0 | 1> {
  const now = await readIpForward(host, namespace);
  const recorded = await readForwardingRecord(host, namespace);
  if (now !== 1) {
    const sysctl = await forwardingSysctl(host, namespace);
    if (sysctl) {
      throw new Error(
        `on ${host.name}: net.ipv4.ip_forward${where(namespace)} is held at ${now} by Sysctl ${sysctl}; ` +
          `set that Sysctl's value to "1", or give this rule forwarding: false`,
      );
    }
    if (recorded === undefined) {
      await writeForwardingRecord(host, namespace, now);
      undo(() => removeForwardingRecord(host, namespace));
    }
    await host.runOk(setIpForwardArgv(namespace, 1));
    undo(() => host.run(setIpForwardArgv(namespace, now)));
  }
  return recorded ?? now;
}

/**
 * Our nat rules in a namespace, of both firewall backends (a stack may mix
 * them in one namespace); undefined when the namespace is not there. A
 * backend whose command the host lacks holds none of ours.
 */
async function natRulesOfEitherBackend(
  host: Host,
  namespace: string | undefined,
): Promise<{ readonly tag: string }[] | undefined> {
  const reader = liveReader(host);
  const lists = await Promise.all(
    (["iptables", "nftables"] as const).map((backend) =>
      firewallFor(backend)
        .natRules(reader, namespace)
        .catch(() => null),
    ),
  );
  // undefined (the namespace is gone) from a backend that could look; null: it could not.
  if (lists.every((l) => l === null)) {
    // Neither could look: ask the iptables one again, so its error (with the kernel's words) surfaces.
    return firewallFor("iptables").natRules(reader, namespace);
  }
  if (lists.some((l) => l === undefined)) return undefined;
  return lists.flatMap((l) => l ?? []);
}

/**
 * After a rule tagged `tag` that needed forwarding is gone: when no other rule
 * of ours there needs it, puts back the value recorded before the first.
 * A namespace that is gone took its forwarding with it: only the record goes.
 * Call it inside `withLock(forwardingLockKey(...))`.
 */
export async function releaseForwarding(
  host: Host,
  namespace: string | undefined,
  tag: string,
): Promise<void> {
  const left = await natRulesOfEitherBackend(host, namespace);
  if (left === undefined) {
    await removeForwardingRecord(host, namespace);
    return;
  }
  if (othersNeedForwarding(left, tag)) return;
  const recorded = await readForwardingRecord(host, namespace);
  if (recorded !== undefined) {
    await host.runOk(setIpForwardArgv(namespace, recorded));
    await removeForwardingRecord(host, namespace);
  }
}
