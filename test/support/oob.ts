/**
 * Out of band: what a lab host really has, seen without our SSH connection
 * (through {@link LabHost.exec}). Shared by the host and engine tiers and by
 * the host snapshot.
 */

import type { ExecResult, LabHost } from "../../lab/labhost";
import { quoteArgv } from "../../provider/shell/quote";

/** Runs argv in the lab host (out of band); throws unless it exits 0. */
export async function oob(h: LabHost, argv: string[]): Promise<string> {
  const r = await h.exec(argv);
  if (r.exitCode !== 0) {
    throw new Error(
      `out of band "${quoteArgv(argv)}" on ${h.name}: exit ${r.exitCode}: ${r.stderr}`,
    );
  }
  return r.stdout;
}

/** Runs argv in the lab host (out of band); the result whatever the exit code. */
export function oobResult(h: LabHost, argv: string[]): Promise<ExecResult> {
  return h.exec(argv);
}

/** Runs a list of commands out of band, in order. */
export async function oobAll(h: LabHost, steps: string[][]): Promise<void> {
  for (const argv of steps) await oob(h, argv);
}

/** argv inside namespace `ns` of the lab host, or in the host itself when `ns` is undefined or "". */
export function inNs(ns: string | undefined, argv: string[]): string[] {
  return ns ? ["ip", "netns", "exec", ns, ...argv] : argv;
}

/** `ip` in namespace `ns` of the lab host, or in the host itself. */
export function ipIn(ns: string | undefined, ...args: string[]): string[] {
  return ns ? ["ip", "-n", ns, ...args] : ["ip", ...args];
}

/** The names of the lab host's namespaces, sorted. */
export async function namespaces(h: LabHost): Promise<string[]> {
  const out = (await oob(h, ["ip", "-json", "netns", "list"])).trim();
  return out ? (JSON.parse(out) as { name: string }[]).map((n) => n.name).sort() : [];
}
