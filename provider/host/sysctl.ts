/**
 * Kernel settings under /proc/sys, read and written as files (the file is
 * what `sysctl` itself reads and writes), and the claims our Sysctl resources
 * leave on the host so that two of them never hold one key. A claim lives
 * under /run, like the forwarding record (forwarding.ts): like the setting
 * itself, it does not outlive a reboot.
 */

import type { Host } from "../transport";
import { inNamespace } from "./ip";

/** Where claims live: one directory per namespace (`@host` for the host's own). */
export const SYSCTL_CLAIM_DIR = "/run/linuxnet/sysctl";

/**
 * The file of a key given as its path segments: `["net", "ipv4", "ip_forward"]`.
 * The segments were checked (no `/`, no `.` or `..`, no empty one), so the
 * file is under /proc/sys.
 */
export function sysctlFile(segments: readonly string[]): string {
  return `/proc/sys/${segments.join("/")}`;
}

/**
 * The key a setting is claimed under: the first of {@link FORWARDING_KEYS}
 * for either of them (they are one setting, so one claim), the key itself for
 * any other.
 */
export function sysctlClaimKey(key: string): string {
  return FORWARDING_KEYS.includes(key) ? FORWARDING_KEYS[0]! : key;
}

/**
 * The claim of a key in a namespace, under its {@link sysctlClaimKey}. The
 * key is in its dotted form, where `/` stands for a `.` inside a segment (an
 * interface `eth0.100`); `/` cannot be part of a file name, and `:` is part
 * of no segment, so it takes its place.
 */
export function sysctlClaimPath(namespace: string | undefined, key: string): string {
  return `${SYSCTL_CLAIM_DIR}/${namespace ?? "@host"}/${sysctlClaimKey(key).replaceAll("/", ":")}`;
}

/** What reading a setting found. */
export type SysctlRead =
  { readonly value: string } | { readonly absent: "namespace" | "key"; readonly stderr: string };

/**
 * Reads a setting as the kernel prints it, less the final newline.
 * Equivalent to: `[ip netns exec NS] cat /proc/sys/KEY`
 */
export async function readSysctl(
  host: Host,
  namespace: string | undefined,
  file: string,
): Promise<SysctlRead> {
  const argv = inNamespace(namespace, ["cat", file]);
  const r = await host.run(argv);
  if (r.exitCode !== 0) {
    if (/Cannot open network namespace/.test(r.stderr)) {
      return { absent: "namespace", stderr: r.stderr };
    }
    if (/No such file or directory/.test(r.stderr)) return { absent: "key", stderr: r.stderr };
    await host.runOk(argv); // throws with the command and the kernel's words
  }
  return { value: r.stdout.replace(/\n$/, "") };
}

/**
 * Writes a setting; throws with the command and the kernel's words
 * ("Invalid argument" for a value out of range).
 * Equivalent to: `echo VALUE | [ip netns exec NS] tee /proc/sys/KEY`
 */
export async function writeSysctl(
  host: Host,
  namespace: string | undefined,
  file: string,
  value: string,
): Promise<void> {
  await host.runOk(inNamespace(namespace, ["tee", file]), { stdin: `${value}\n` });
}

/** The id of the Sysctl that claims a key, or undefined. Equivalent to: `cat CLAIM` */
export async function readSysctlClaim(
  host: Host,
  namespace: string | undefined,
  key: string,
): Promise<string | undefined> {
  const r = await host.run(["cat", sysctlClaimPath(namespace, key)]);
  return r.exitCode === 0 ? r.stdout.trim() || undefined : undefined;
}

/** Claims a key for a Sysctl. Equivalent to: `mkdir -p DIR && echo ID > CLAIM` */
export async function writeSysctlClaim(
  host: Host,
  namespace: string | undefined,
  key: string,
  id: string,
): Promise<void> {
  await host.runOk(["mkdir", "-p", `${SYSCTL_CLAIM_DIR}/${namespace ?? "@host"}`]);
  await host.runOk(["tee", sysctlClaimPath(namespace, key)], { stdin: `${id}\n` });
}

/** Drops a claim, and the directories when they are empty. Equivalent to: `rm -f CLAIM && rmdir DIRS` */
export async function removeSysctlClaim(
  host: Host,
  namespace: string | undefined,
  key: string,
): Promise<void> {
  await host.runOk(["rm", "-f", sysctlClaimPath(namespace, key)]);
  await host.run([
    "rmdir",
    "--ignore-fail-on-non-empty",
    `${SYSCTL_CLAIM_DIR}/${namespace ?? "@host"}`,
    SYSCTL_CLAIM_DIR,
    "/run/linuxnet",
  ]);
}

/**
 * The keys that are the namespace's IPv4 forwarding: writing either sets
 * both. NatRule and PortForward turn it on while they need it (forwarding.ts).
 */
export const FORWARDING_KEYS: readonly string[] = [
  "net.ipv4.ip_forward",
  "net.ipv4.conf.all.forwarding",
];
