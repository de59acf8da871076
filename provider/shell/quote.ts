/**
 * The one place where argv lists become shell text. Every command that runs on
 * a host goes through {@link quoteArgv}; no user string is ever pasted into a
 * shell line any other way.
 *
 * A leaf of the layering: it imports nothing, so that `errors.ts` (which prints
 * the command that failed), `transport/` (which runs it) and the lab harness
 * (which prints and runs its own commands) all quote with this one function.
 */

/** Characters that never need quoting in a POSIX shell word. */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes one argument for a POSIX shell: safe words stay as they are, all else
 * is wrapped in single quotes, with each `'` written as `'\''`.
 */
export function quoteArg(arg: string): string {
  if (arg.includes("\0")) {
    // A NUL cannot be passed in an argv at all; refuse rather than truncate.
    throw new Error("an argument contains a NUL byte");
  }
  if (SAFE_WORD.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Quotes an argv list into one shell command line. */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map(quoteArg).join(" ");
}
