/**
 * What the rest of the package sees of SSH: a {@link Host} that runs argv
 * lists. Sessions are pooled per connection for the life of the process (one
 * provider process serves a whole deployment), so every resource on a host
 * shares one SSH connection.
 */

import { CommandError } from "../errors";
import { type Connection, connectionKey } from "./connection";
import { type CommandResult, HostSession } from "./ssh";
import { quoteArgv } from "./quote";

export type { CommandResult } from "./ssh";
export { transportStats } from "./ssh";

const sessions = new Map<string, Promise<HostSession>>();

async function sessionFor(connection: Connection): Promise<HostSession> {
  const key = connectionKey(connection);
  let session = sessions.get(key);
  if (session) {
    // A connection that dropped (keepalive lost, sshd restarted) is replaced once, here.
    const live = await session.catch(() => undefined);
    if (live && !live.lost) return live;
    sessions.delete(key);
  }
  session = HostSession.open(connection);
  sessions.set(key, session);
  session.catch(() => sessions.delete(key));
  return session;
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
}

/** The {@link Host} for a connection, over the pooled SSH session. */
export function hostFor(connection: Connection): Host {
  const run = async (argv: readonly string[], options?: RunOptions) => {
    const session = await sessionFor(connection);
    return session.run(quoteArgv(argv), options?.stdin);
  };
  return {
    name: connection.host,
    run,
    async runOk(argv, options) {
      const result = await run(argv, options);
      if (result.exitCode !== 0) {
        throw new CommandError(
          connection.host,
          argv,
          result.exitCode,
          result.stdout,
          result.stderr,
        );
      }
      return result;
    },
  };
}

/** Closes every pooled connection (tests, and the end of a benchmark run). */
export async function closeAllSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  for (const s of all) (await s.catch(() => undefined))?.close();
}
