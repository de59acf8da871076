/**
 * Recorded hosts for the unit tier: every command the doctor ran on a real lab
 * host (the lab stack's network, built by hand), with what the host answered.
 * Replaying them runs the doctor's whole walk without a host; a command that
 * was not recorded fails the test, so a change to what the doctor runs shows.
 *
 * The host snapshot is recorded under a stable key that names its extra
 * sections (`sh -c '<linuxnet host snapshot +nsids +sysctl>'`), with the
 * marker {@link RECORDED_MARKER} in place of the one chosen per dump; the
 * replay puts back the marker the reader asked with.
 *
 * Re-record with fixtures/record.js after such a change (see its header).
 */

import { readFileSync } from "node:fs";
import * as path from "node:path";
import { type Host, hostFromRun } from "../../../provider/transport";
import { quoteArgv } from "../../../provider/shell/quote";
import { type World, worldFromSnapshot } from "../../../provider/doctor/world";
import {
  EXTRA_SECTION_COMMANDS,
  type ExtraSectionName,
  type HostSnapshot,
  parseHostSnapshot,
} from "../../../provider/host/snapshot";

/** The marker a recorded snapshot carries. */
export const RECORDED_MARKER = "linuxnet-snapshot-recorded";

/** The key a recording keeps a snapshot command under, or undefined for any other command. */
export function snapshotKey(argv: readonly string[]): string | undefined {
  if (argv[0] !== "sh" || argv[3] !== "linuxnet-snapshot") return undefined;
  const extra = (Object.keys(EXTRA_SECTION_COMMANDS) as ExtraSectionName[]).filter((label) =>
    argv[5]?.includes(`\nsection ${label} `),
  );
  return `sh -c '<linuxnet host snapshot${extra.map((e) => ` +${e}`).join("")}>'`;
}

interface Recording {
  readonly host: string;
  readonly calls: Record<string, { stdout: string; stderr: string; exitCode: number }>;
}

/** A fixture file under fixtures/, parsed. */
export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(path.join(__dirname, "fixtures", name), "utf8")) as T;
}

/** A {@link Host} that answers from a recording, and the commands it was asked. */
export function replayHost(name: string): Host & { asked: string[] } {
  const rec = fixture<Recording>(name);
  const asked: string[] = [];
  const run = async (argv: readonly string[]) => {
    const snapshot = snapshotKey(argv);
    const key = snapshot ?? quoteArgv(argv);
    asked.push(key);
    // A recording made before the doctor read more sections answers with the sections it has:
    // the checks that need the others find nothing to judge.
    const r =
      rec.calls[key] ??
      (snapshot ? rec.calls["sh -c '<linuxnet host snapshot +nsids +sysctl>'"] : undefined);
    if (!r) throw new Error(`not in the recording ${name}: ${key}`);
    return snapshot ? { ...r, stdout: r.stdout.replaceAll(RECORDED_MARKER, argv[4]!) } : r;
  };
  return { ...hostFromRun(rec.host, run), asked };
}

/** The host snapshot of a recording, parsed. */
export function recordedSnapshot(name: string): HostSnapshot {
  const rec = fixture<Recording>(name);
  const key = Object.keys(rec.calls).find((k) => k.startsWith("sh -c '<linuxnet host snapshot"));
  if (!key) throw new Error(`the recording ${name} holds no host snapshot`);
  return parseHostSnapshot(rec.calls[key]!.stdout, rec.host);
}

/** The world (every namespace's links) of a recording, parsed without the reader. */
export function recordedWorld(name: string): World {
  return worldFromSnapshot(recordedSnapshot(name));
}
