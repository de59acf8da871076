/**
 * The contract every resource kind implements, and the pieces they share:
 * names, connection checks, diffs of plain fields. Nothing here runs a command.
 */

import { randomBytes } from "node:crypto";
import type { ValidationFailure } from "../errors";
import { type Connection, resolveConnection } from "../transport/connection";
import type { CommandResult, Host } from "../transport";
import { CommandError } from "../errors";
import type { HostReader } from "../host/reader";
import { Checker, isUnknown } from "./validate";

/** Inputs every kind has, as they reach the provider (plain values, or the unknown placeholder). */
export interface BaseInputs {
  /** The connection, resolved by the program from args or stack config. */
  readonly connection?: Record<string, unknown>;
  /** The resource's name in the stack: the prefix of auto-generated object names. */
  readonly resourceName?: string;
  /**
   * Who owns the objects it makes, `<project>/<stack>/<Kind>/<resource name>`,
   * as the program computed it: their mark of ownership names it (owner.ts).
   */
  readonly owner?: string;
}

/** The result of `check`: normalised inputs, or what is wrong with them. */
export interface CheckOutcome<I> {
  readonly inputs: I;
  readonly failures: ValidationFailure[];
}

/** The result of `diff`, as the engine wants it. */
export interface DiffOutcome {
  readonly changes: boolean;
  readonly replaces: string[];
  readonly deleteBeforeReplace: boolean;
}

/**
 * One kind of object on a host. `check` and `diff` are pure (the engine runs
 * them one resource at a time, so I/O there would make previews crawl);
 * the others run commands through the {@link Host}.
 *
 * - `create` is transactional: it ensures, reads back and verifies; when a
 *   later step fails it undoes the earlier ones before it throws, so nothing
 *   is left on the host and nothing in state.
 * - `read` reports what the host has; `undefined` means gone. It asks its
 *   questions through a {@link HostReader}: during a refresh, that reader
 *   answers every resource on a host from one snapshot of the host (see
 *   host/snapshot.ts), so a read asks only what a reader offers.
 * - `delete` is idempotent: already gone is success. After a failed delete
 *   the engine assumes the object still exists.
 */
export interface Kind<I extends BaseInputs, O extends BaseInputs> {
  check(olds: Partial<I> | undefined, news: I): CheckOutcome<I>;
  diff(olds: O, news: I): DiffOutcome;
  /** The id a create of these inputs makes (a name, or a fresh random id). */
  idOf(inputs: I): string;
  create(host: Host, inputs: I, id: string): Promise<O>;
  read(reader: HostReader, id: string, props: O): Promise<O | undefined>;
  update(host: Host, id: string, olds: O, news: I): Promise<O>;
  delete(host: Host, id: string, props: O): Promise<void>;
}

/** Checks the connection input when it is known (it may be unknown during preview). */
export function checkConnection(checker: Checker, raw: unknown): Connection | undefined {
  if (raw === undefined || raw === null) {
    checker.fail("connection", "is required (or set linuxnet:host in the stack config)");
    return undefined;
  }
  if (isUnknown(raw)) return undefined;
  if (!isObject(raw)) {
    checker.fail(
      "connection",
      `must be a connection object { host, port?, user?, ... }, got ${kindOf(raw)}`,
    );
    return undefined;
  }
  if (containsUnknown(raw)) return undefined;
  const { connection, failures } = resolveConnection(raw);
  checker.failures.push(...failures);
  return connection;
}

/** True for an object with fields (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What a value is, for a failure that must not echo it: "a number", "a list", "null". */
export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** True when a value or anything nested in it is the engine's unknown placeholder. */
export function containsUnknown(value: unknown): boolean {
  if (isUnknown(value)) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}

/**
 * An object name for a resource that was given none: the resource's name,
 * cut to fit, and a random suffix, within `maxBytes` (interface names: 15).
 * A name made earlier (in `olds`) is kept, so updates do not rename.
 */
export function autoName(
  resourceName: unknown,
  previous: unknown,
  maxBytes: number,
  suffix = "",
): string {
  if (typeof previous === "string" && previous.length > 0) return previous;
  const random = randomBytes(3).toString("hex").slice(0, 5);
  // Not a string only when something other than our resource classes made the inputs: "ln" will do.
  const given = typeof resourceName === "string" ? resourceName : "ln";
  const base = given.replace(/[^A-Za-z0-9_.-]/g, "").replace(/^[-.]+/, "") || "ln";
  const room = maxBytes - random.length - suffix.length - 1;
  return `${base.slice(0, Math.max(1, room))}-${random}${suffix}`;
}

/** Field-by-field comparison of plain JSON values. */
export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * Runs the steps of a create so that a failure part-way undoes what the
 * earlier steps did, newest first, before the error goes on to the engine.
 * A failed undo is added to the message rather than hiding the first error.
 */
export async function transactional<T>(
  steps: (undo: (step: () => Promise<unknown>) => void) => Promise<T>,
): Promise<T> {
  const undos: (() => Promise<unknown>)[] = [];
  try {
    return await steps((step) => undos.push(step));
  } catch (e) {
    const problems: string[] = [];
    for (const step of undos.reverse()) {
      await step().catch((u: Error) => problems.push(u.message));
    }
    if (problems.length > 0 && e instanceof Error) {
      e.message += ` (and undoing the earlier steps failed: ${problems.join("; ")})`;
    }
    throw e;
  }
}

/**
 * Throws for the step of a {@link Host.runSteps} run that failed, if one did:
 * a {@link CommandError} with that step's argv and the kernel's words, which
 * `explain` may add to (for "File exists": whose object it is).
 */
export async function throwIfStepFailed(
  host: Host,
  steps: readonly (readonly string[])[],
  results: readonly CommandResult[],
  explain?: (index: number, stderr: string) => Promise<string | undefined>,
): Promise<void> {
  const index = results.findIndex((r) => r.exitCode !== 0);
  if (index < 0) return;
  const r = results[index]!;
  const why = (await explain?.(index, r.stderr)) ?? r.stderr;
  throw new CommandError(host.name, steps[index]!, r.exitCode, r.stdout, why);
}
