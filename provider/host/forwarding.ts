/**
 * `net.ipv4.ip_forward`, and the record of its value from before we turned it
 * on. The record lives on the host (under /run, which like the sysctl itself
 * does not outlive a reboot), not in a rule or in the stack's state, so that
 * it survives our rules being flushed behind our back: whoever removes the
 * last of our rules that needed forwarding puts back the value recorded.
 */

import type { Host } from "../transport";
import { inNamespace } from "./ip";

/** Where records live. */
export const FORWARDING_RECORD_DIR = "/run/linuxnet/ip_forward";

/** The record of one namespace (`@host` for the host itself: `@` is not allowed in namespace names). */
export function forwardingRecordPath(namespace: string | undefined): string {
  return `${FORWARDING_RECORD_DIR}/${namespace ?? "@host"}`;
}

/** Reads `net.ipv4.ip_forward` in a namespace. Equivalent to: `[ip netns exec NS] cat /proc/sys/net/ipv4/ip_forward` */
export async function readIpForward(host: Host, namespace: string | undefined): Promise<0 | 1> {
  const r = await host.runOk(inNamespace(namespace, ["cat", "/proc/sys/net/ipv4/ip_forward"]));
  return r.stdout.trim() === "1" ? 1 : 0;
}

/** Equivalent to: `[ip netns exec NS] sysctl -qw net.ipv4.ip_forward=V` */
export function setIpForwardArgv(namespace: string | undefined, value: 0 | 1): string[] {
  return inNamespace(namespace, ["sysctl", "-qw", `net.ipv4.ip_forward=${value}`]);
}

/** The recorded value, or undefined when there is no record. Equivalent to: `cat RECORD` */
export async function readForwardingRecord(
  host: Host,
  namespace: string | undefined,
): Promise<0 | 1 | undefined> {
  const r = await host.run(["cat", forwardingRecordPath(namespace)]);
  if (r.exitCode !== 0) return undefined;
  return r.stdout.trim() === "1" ? 1 : 0;
}

/** Records the value found. Equivalent to: `mkdir -p DIR && echo V > RECORD` */
export async function writeForwardingRecord(
  host: Host,
  namespace: string | undefined,
  value: 0 | 1,
): Promise<void> {
  await host.runOk(["mkdir", "-p", FORWARDING_RECORD_DIR]);
  await host.runOk(["tee", forwardingRecordPath(namespace)], { stdin: `${value}\n` });
}

/** Drops a record, and the directories when they are empty. Equivalent to: `rm -f RECORD && rmdir DIRS` */
export async function removeForwardingRecord(
  host: Host,
  namespace: string | undefined,
): Promise<void> {
  await host.runOk(["rm", "-f", forwardingRecordPath(namespace)]);
  await host.run(["rmdir", "--ignore-fail-on-non-empty", FORWARDING_RECORD_DIR, "/run/linuxnet"]);
}
