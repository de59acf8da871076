/**
 * The errors users see. Each says where (the host), what (the command, the
 * field) and why (the kernel's own words, the rule that was broken), and none
 * carries a credential.
 */

import { quoteArgv } from "./shell/quote";

/** One input that failed validation: the field's path and the rule it broke. */
export interface ValidationFailure {
  /** The input property, e.g. `a.name` or `addresses[1]`. */
  readonly property: string;
  /** The rule, in words: `must be 1-15 bytes, got 16`. */
  readonly reason: string;
}

/**
 * Inputs that break a rule, found before anything touched a host.
 * Its message lists every failure as `property: reason`.
 */
export class ValidationError extends Error {
  /** Always `"ValidationError"`: the kind survives where the class does not (a message, a log). */
  override readonly name = "ValidationError";
  constructor(
    /** Every input that broke a rule, not only the first: one run shows them all. */
    readonly failures: readonly ValidationFailure[],
  ) {
    super(failures.map((f) => `${f.property}: ${f.reason}`).join("; "));
  }
}

/**
 * A command that ran on a host and ended with a non-zero exit code, when the
 * resource decided that this exit means failure.
 * Reads like: `running "ip link add br0 type bridge" on 10.1.0.2: exit 2: RTNETLINK answers: File exists`.
 */
export class CommandError extends Error {
  /** Always `"CommandError"`: the kind survives where the class does not (a message, a log). */
  override readonly name = "CommandError";
  /** The command line as it ran, quoted for a POSIX shell. */
  readonly command: string;
  /** The first line of the message, without stdout. */
  readonly shortMessage: string;
  constructor(
    /** The host it ran on, as the connection names it: `"10.1.0.2"`. */
    readonly host: string,
    /** The command as an argv list, before quoting: `["ip", "link", "add", ...]`. */
    readonly argv: readonly string[],
    /** Its exit code: `2`. */
    readonly exitCode: number,
    /** What it printed on standard output. */
    readonly stdout: string,
    /** What it printed on standard error: the kernel's words, `RTNETLINK answers: File exists`. */
    readonly stderr: string,
  ) {
    const command = quoteArgv(argv);
    const why = stderr.trim() || stdout.trim() || "(no output)";
    const shortMessage = `running "${command}" on ${host}: exit ${exitCode}: ${why}`;
    super(shortMessage);
    this.command = command;
    this.shortMessage = shortMessage;
  }
}

/** Why a connection failed, kept apart from command failures (after ssh2's `err.level`). */
export type TransportErrorLevel =
  | "connect" // TCP could not be opened (host down, refused, unreachable)
  | "timeout" // the dial deadline passed while the host was still not answering
  | "authentication" // the server refused every credential offered
  | "host-key" // the server's key is not the pinned one
  | "sudo" // sudo -n refused (a password is required, or the user may not sudo)
  | "protocol"; // the connection broke after it was up (session killed, keepalive lost)

/** An SSH connection that could not be made or was lost. */
export class TransportError extends Error {
  /** Always `"TransportError"`: the kind survives where the class does not (a message, a log). */
  override readonly name = "TransportError";
  constructor(
    /** Why the connection failed, so callers can tell a wrong key from a host that is down. */
    readonly level: TransportErrorLevel,
    /** The host it tried, as the connection names it: `"10.1.0.2"`. */
    readonly host: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`ssh to ${host}: ${message}`, options);
  }
}
