/**
 * A lab host's own view of its SSH logins, read out of band: its sshd log
 * (`sshd -e` writes every login and every refusal there) and its per-connection
 * sshd processes. Shared by the host and engine tiers.
 */

import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { Lab, LabHost } from "../../lab/labhost";
import { waitFor } from "./wait";

/** The whole sshd log of host `h` of `lab`. */
export function sshdLog(lab: Pick<Lab, "stateDir">, h: LabHost): Promise<string> {
  return fs.readFile(path.join(lab.stateDir, h.name, "sshd.log"), "utf8");
}

/** Where the log ends now: pass it to {@link logLinesSince} to see only what comes after. */
export async function logMark(lab: Pick<Lab, "stateDir">, h: LabHost): Promise<number> {
  return (await sshdLog(lab, h)).length;
}

/** The log lines after `mark` that match `re`, as they are now. */
export async function logLinesSince(
  lab: Pick<Lab, "stateDir">,
  h: LabHost,
  mark: number,
  re: RegExp,
): Promise<string[]> {
  return (await sshdLog(lab, h))
    .slice(mark)
    .split("\n")
    .filter((line) => re.test(line));
}

/**
 * The log lines after `mark` that match `re`, once there are at least `count`
 * of them (sshd writes its line as the client goes on, so it may land a moment
 * after the client's call returned). Fails after 5 s, saying what it awaited.
 * The caller asserts the exact lines: more than `count` are returned as found.
 */
export function waitForLogLines(
  lab: Pick<Lab, "stateDir">,
  h: LabHost,
  mark: number,
  re: RegExp,
  count: number,
): Promise<string[]> {
  return waitFor(
    async () => {
      const lines = await logLinesSince(lab, h, mark, re);
      return lines.length >= count ? lines : undefined;
    },
    { timeoutMs: 5_000, what: `${count} line(s) matching ${re} in the sshd log of ${h.name}` },
  );
}

/**
 * The host's per-connection sshd processes, by pid inside the host: `sshd: USER@notty`
 * once a session channel is open, `sshd: USER` for a connection that only forwards (a
 * jump host's). Not the listener (PID 1), and not a non-root user's `[priv]` monitor.
 */
export async function sessionPids(h: LabHost): Promise<number[]> {
  const r = await h.exec(["ps", "-eo", "pid=,args="]);
  return r.stdout
    .split("\n")
    .map((l) => /^\s*(\d+)\s+sshd: [a-z_][\w.-]*(@notty)?$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => Number(m![1]))
    .filter((pid) => pid !== 1);
}
