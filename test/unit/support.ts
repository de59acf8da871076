/**
 * Shared inputs for the unit tier: a valid connection, and the engine's
 * placeholder for a value not known yet.
 */

export { UNKNOWN } from "../../provider/resources/validate";

/** A connection that passes every check: the rows of a table vary one field at a time. */
export const CONNECTION: Readonly<Record<string, unknown>> = Object.freeze({
  host: "10.1.0.2",
  privateKey: "k",
});

/** The serialized dynamic provider the engine keeps in state (its text changes with each build). */
export const PROVIDER_KEY = "__provider";

/**
 * Rows for `it.each` whose label prints as `%s`: vitest quotes and truncates
 * `$label` in test names, which spoils the sentence.
 */
export function labelled<T extends { readonly label: string }>(rows: readonly T[]): [string, T][] {
  return rows.map((row) => [row.label, row]);
}

/**
 * A kind's inputs for table rows: a connection that passes, the resource's
 * name and the kind's valid defaults, with each row's `over` on top. Every
 * call gets its own copy, so a row cannot change another's.
 */
export function inputsFor<T>(
  resourceName: string,
  defaults: Readonly<Record<string, unknown>>,
): (over?: Record<string, unknown>) => T {
  return (over = {}) =>
    ({
      connection: { ...CONNECTION },
      resourceName,
      ...structuredClone(defaults),
      ...over,
    }) as T;
}

/** True when a value or anything inside it is `undefined`: what protobuf's Struct refuses. */
export function containsUndefined(value: unknown): boolean {
  if (value === undefined) return true;
  if (value === null || typeof value !== "object") return false;
  return Object.values(value).some(containsUndefined);
}

/** True when a value or anything inside it is NaN or ±Infinity: what JSON state cannot hold. */
export function containsNonFinite(value: unknown): boolean {
  if (typeof value === "number") return !Number.isFinite(value);
  if (value === null || typeof value !== "object") return false;
  return Object.values(value).some(containsNonFinite);
}
