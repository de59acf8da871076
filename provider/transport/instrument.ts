/**
 * Switches for the benchmark (scripts/bench), read from the environment of
 * the provider process. None is meant for normal use; each only measures.
 *
 * - `LINUXNET_DIAL_PER_COMMAND=1`: every command over a connection of its
 *   own, as remote-command tools do; the baseline we compare against.
 * - `LINUXNET_COMMAND_LOG=FILE`: append every command line run, so the same
 *   commands can be replayed in one plain SSH session (the shell floor).
 * - `LINUXNET_STATS_FILE=FILE`: keep this process's counters (connections,
 *   channels, commands) and its peak memory in FILE, rewritten as they change.
 */

import * as fs from "node:fs";
import { transportStats } from "./ssh";

/** True when every command should dial its own connection. */
export const dialPerCommand = process.env.LINUXNET_DIAL_PER_COMMAND === "1";

const commandLog = process.env.LINUXNET_COMMAND_LOG;
const statsFile = process.env.LINUXNET_STATS_FILE;

/** Records one command line (with its here-document input) when a log is asked for. */
export function logCommand(commandLine: string, stdin?: string): void {
  if (!commandLog) return;
  const input =
    stdin === undefined
      ? ""
      : ` <<'LINUXNET_EOF'\n${stdin}${stdin.endsWith("\n") ? "" : "\n"}LINUXNET_EOF`;
  fs.appendFileSync(commandLog, `${commandLine}${input}\n`);
}

/** The kernel's record of this process's peak resident memory, in KiB. */
export function peakRssKiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) : 0;
}

/** Writes the counters when a stats file is asked for. */
export function writeStats(): void {
  if (!statsFile) return;
  fs.writeFileSync(
    statsFile,
    JSON.stringify({ pid: process.pid, ...transportStats, peakRssKiB: peakRssKiB() }),
  );
}
