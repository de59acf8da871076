/**
 * Tests that need a kernel module the machine running them lacks (our CI
 * kernel has no sch_netem, vlan, wireguard, ...). Such a test is neither
 * passed nor failed: it is skipped, and the reason is recorded so that the
 * run's summary (scripts/summarize-tests.js) reports it as "not verified:
 * <test>: <reason>" and counts it apart. A skip that was NOT recorded this way
 * still fails the run, so nothing slips into a green result by being skipped.
 *
 * The probe asks the kernel for real: it adds the qdisc (or link) in a
 * throwaway network namespace made by `unshare -n`, which has no name, holds
 * nothing of anyone's and vanishes with the command; nothing on the host changes.
 */

import { appendFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TestContext } from "vitest";
import type { LabHost } from "../../lab/labhost";

/** Where the reasons go: `test-results/not-verified-<tier>.jsonl` at the repository's root. */
export const RESULTS_DIR = resolve(__dirname, "../../test-results");

/** One line of a not-verified record. */
export interface NotVerifiedRecord {
  /** The test file, relative to the repository's root. */
  readonly file: string;
  /** The test's full name as vitest's JSON report gives it (`describe` titles and the test's, joined by spaces). */
  readonly test: string;
  readonly reason: string;
}

/** The full name vitest's JSON reporter gives a test: its suites' titles and its own, space-joined. */
function fullName(ctx: TestContext): string {
  const titles: string[] = [];
  let task: { name: string; suite?: unknown; type?: string } | undefined = ctx.task;
  while (task) {
    // The file itself is a suite too, named by its path: not part of the full name.
    if (task.type !== "suite" || (task as { filepath?: string }).filepath === undefined) {
      titles.unshift(task.name);
    }
    task = task.suite as typeof task;
  }
  return titles.join(" ");
}

/**
 * Records that this test could not verify what it is about, and why, then
 * skips it. Call it before anything the test asserts.
 */
export function notVerified(ctx: TestContext, reason: string): never {
  const tier = ctx.task.file.projectName || "default";
  const record: NotVerifiedRecord = {
    file: ctx.task.file.name,
    test: fullName(ctx),
    reason,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  appendFileSync(join(RESULTS_DIR, `not-verified-${tier}.jsonl`), `${JSON.stringify(record)}\n`);
  console.log(`not verified: ${record.test}: ${reason}`);
  ctx.skip(reason);
  // ctx.skip throws; this line says so to the compiler.
  throw new Error("unreachable");
}

/** The arguments that make a qdisc of each kind we probe for, as small as the kind allows. */
const PROBE_QDISCS: Readonly<Record<string, readonly string[]>> = {
  netem: ["netem", "delay", "1ms"],
  tbf: ["tbf", "rate", "1mbit", "burst", "8kb", "latency", "50ms"],
};

/**
 * Undefined when the lab host's kernel can make a root qdisc of `kind`
 * (`netem`, `tbf`), else the reason it cannot: "kernel lacks sch_netem".
 * Equivalent to: `unshare -n tc qdisc add dev lo root KIND ...`
 */
export async function kernelLacksQdisc(h: LabHost, kind: string): Promise<string | undefined> {
  const args = PROBE_QDISCS[kind];
  if (!args) throw new Error(`no probe for the qdisc kind "${kind}"`);
  const r = await h.exec(["unshare", "-n", "tc", "qdisc", "add", "dev", "lo", "root", ...args]);
  if (r.exitCode === 0) return undefined;
  if (/unknown|not supported|No such file/i.test(r.stderr)) return `kernel lacks sch_${kind}`;
  // Anything else is a broken probe, not a missing module: it must not turn into a skip.
  throw new Error(`probing for sch_${kind} on ${h.name}: exit ${r.exitCode}: ${r.stderr}`);
}
