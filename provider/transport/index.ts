/**
 * What the rest of the package sees of SSH: a {@link Host} that runs argv
 * lists. Sessions are pooled per connection for the life of the process (one
 * provider process serves a whole deployment), so every resource on a host
 * shares one SSH connection.
 */

import { randomBytes } from "node:crypto";
import { CommandError } from "../errors";
import { type Connection, connectionKey } from "./connection";
import { type CommandResult, HostSession } from "./ssh";
import { quoteArgv } from "../shell/quote";
import { dialPerCommand, logCommand, writeStats } from "./instrument";

export type { CommandResult } from "./ssh";
export { transportStats } from "./ssh";

const sessions = new Map<string, Promise<HostSession>>();

/**
 * The pooled session of a connection. Everyone waiting on a dial shares its
 * outcome: a refused dial fails them all with the same error, instead of
 * each dialling again (an authentication storm, which sshd's MaxStartups
 * answers by dropping connections). A session that was up and then dropped
 * (keepalive lost, sshd restarted) is replaced once, by whoever finds it so.
 */
async function sessionFor(connection: Connection): Promise<HostSession> {
  const key = connectionKey(connection);
  for (;;) {
    const current = sessions.get(key);
    if (!current) {
      const opening = HostSession.open(connection);
      sessions.set(key, opening);
      opening.catch(() => {
        if (sessions.get(key) === opening) sessions.delete(key);
      });
      return opening;
    }
    const live = await current;
    if (!live.lost) return live;
    if (sessions.get(key) === current) sessions.delete(key);
  }
}

/** Options of one command. */
export interface RunOptions {
  /** Text fed to the command's standard input (for `ip -batch -`). */
  readonly stdin?: string;
}

/** One host, as resources see it: a name for messages, and commands. */
export interface Host {
  /** The host's address, for messages. */
  readonly name: string;
  /** Runs argv; a non-zero exit is a result, not an exception. */
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Runs argv and throws a {@link CommandError} on a non-zero exit. */
  runOk(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /**
   * Runs several commands in one round trip, in order, stopping at the first
   * that fails. Returns the result of each step that ran: all but the last
   * succeeded; the last may have failed.
   */
  runSteps(steps: readonly (readonly string[])[]): Promise<CommandResult[]>;
  /** {@link Host.runSteps}, throwing a {@link CommandError} for the step that failed. */
  runStepsOk(steps: readonly (readonly string[])[]): Promise<CommandResult[]>;
}

/** Runs steps one command at a time, stopping at the first that fails. */
async function stepByStep(
  run: Host["run"],
  steps: readonly (readonly string[])[],
): Promise<CommandResult[]> {
  const results: CommandResult[] = [];
  for (const step of steps) {
    const r = await run(step);
    results.push(r);
    if (r.exitCode !== 0) break;
  }
  return results;
}

/**
 * A {@link Host} from `run` (and a faster `runSteps`, if there is one): for
 * hosts that are not an SSH session, such as the doctor's local runner, it
 * runs steps one command at a time.
 */
export function hostFromRun(
  name: string,
  run: Host["run"],
  runSteps: Host["runSteps"] = (steps) => stepByStep(run, steps),
): Host {
  const fail = (argv: readonly string[], r: CommandResult) =>
    new CommandError(name, argv, r.exitCode, r.stdout, r.stderr);
  return {
    name,
    run,
    async runOk(argv, options) {
      const r = await run(argv, options);
      if (r.exitCode !== 0) throw fail(argv, r);
      return r;
    },
    runSteps,
    async runStepsOk(steps) {
      const results = await runSteps(steps);
      const last = results[results.length - 1];
      if (last && last.exitCode !== 0) throw fail(steps[results.length - 1]!, last);
      return results;
    },
  };
}

/** Marks where each step of a {@link Host.runSteps} begins, on both streams. */
const STEP_MARKER = `__LINUXNET_STEP_${randomBytes(6).toString("hex")}__`;

/**
 * One shell line that runs the steps in order and stops at the first failure,
 * printing a marker with the step's index on both streams before each.
 * Equivalent to: `{ STEP0; } && { STEP1; } && ...`
 */
export function chainSteps(steps: readonly (readonly string[])[]): string {
  return steps
    .map(
      (argv, i) =>
        `{ printf '\\n%s %d\\n' ${STEP_MARKER} ${i}; printf '\\n%s %d\\n' ${STEP_MARKER} ${i} >&2; ${quoteArgv(argv)} </dev/null; }`,
    )
    .join(" && ");
}

/** Cuts one stream of a chained run into the output of each step, by its markers. */
export function splitSteps(text: string): string[] {
  const parts: string[] = [];
  const re = new RegExp(`\\n${STEP_MARKER} (\\d+)\\n`, "g");
  let last: { index: number; end: number } | undefined;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (last) parts[parts.length - 1] = text.slice(last.end, m.index);
    parts.push("");
    last = { index: Number(m[1]), end: m.index + m[0].length };
  }
  if (last) parts[parts.length - 1] = text.slice(last.end);
  return parts;
}

/** The {@link Host} for a connection, over the pooled SSH session. */
export function hostFor(connection: Connection): Host {
  const run = async (argv: readonly string[], options?: RunOptions) => {
    const line = quoteArgv(argv);
    logCommand(line, options?.stdin);
    try {
      if (dialPerCommand) return await runOnFreshConnection(connection, line, options?.stdin);
      const session = await sessionFor(connection);
      return await session.run(line, options?.stdin);
    } finally {
      writeStats();
    }
  };
  const runSteps = async (steps: readonly (readonly string[])[]): Promise<CommandResult[]> => {
    // The benchmark's baseline keeps a connection per command, so its steps go one by one.
    if (dialPerCommand || steps.length <= 1) return stepByStep(run, steps);
    for (const step of steps) logCommand(quoteArgv(step));
    try {
      const session = await sessionFor(connection);
      const r = await session.run(chainSteps(steps));
      const out = splitSteps(r.stdout);
      const err = splitSteps(r.stderr);
      return out.map((stdout, i) => ({
        stdout,
        stderr: err[i] ?? "",
        exitCode: i === out.length - 1 ? r.exitCode : 0,
      }));
    } finally {
      writeStats();
    }
  };
  return hostFromRun(connection.host, run, runSteps);
}

/** The benchmark's baseline: a connection of its own for one command. */
async function runOnFreshConnection(connection: Connection, line: string, stdin?: string) {
  const session = await HostSession.open(connection);
  try {
    return await session.run(line, stdin);
  } finally {
    session.close();
  }
}

/**
 * The fingerprint (`SHA256:...`) of the key the host presented on the pooled
 * connection: what to pin as `hostKey` when none is pinned yet.
 */
export async function hostKeyFingerprintOf(connection: Connection): Promise<string> {
  return (await sessionFor(connection)).hostKeyFingerprint;
}

const sessionFacts = new WeakMap<HostSession, Map<string, Promise<unknown>>>();

/**
 * A fact about the host that holds for as long as one connection to it does
 * (its boot id: a reboot drops the connection), asked once per pooled
 * session with `read`; a read that fails is asked again next time.
 */
export async function sessionFact<T>(
  connection: Connection,
  name: string,
  read: (host: Host) => Promise<T>,
): Promise<T> {
  if (dialPerCommand) return read(hostFor(connection));
  const session = await sessionFor(connection);
  let facts = sessionFacts.get(session);
  if (!facts) sessionFacts.set(session, (facts = new Map()));
  let fact = facts.get(name) as Promise<T> | undefined;
  if (!fact) {
    const asked = read(hostFor(connection));
    facts.set(name, asked);
    asked.catch(() => {
      if (facts.get(name) === asked) facts.delete(name);
    });
    fact = asked;
  }
  return fact;
}

/** Closes every pooled connection (tests, and the end of a benchmark run). */
export async function closeAllSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  for (const s of all) (await s.catch(() => undefined))?.close();
}
