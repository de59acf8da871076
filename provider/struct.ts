/**
 * Values as the engine can carry them. Everything a dynamic provider hands
 * back (check's inputs, diff's result, outputs, read's properties, the
 * properties of a partly created resource) is turned into a protobuf `Struct`
 * by google-protobuf's `Struct.fromJavaScript` in the SDK's dynamic-provider
 * process, which throws `Unexpected struct type.` on `undefined`, functions,
 * symbols and bigints anywhere in it (pulumi#2205), and then stored by the
 * engine as JSON, which has no NaN or Infinity. Imports nothing of ours.
 */

/** The key and value that mark a secret in the engine's wire format (the SDK's `specialSigKey`/`specialSecretSig`). */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Nothing to send: the field is left out, or an array element becomes null. */
const NOTHING = Symbol("nothing");

/** True for the engine's wrapper of a secret value, `{ [SIG_KEY]: SECRET_SIG, value }`. */
function isSecretWrapper(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG
  );
}

/**
 * A copy of `value` that `Struct.fromJavaScript` accepts and the engine can
 * store, with every plain value as it was:
 *
 * - an object field that is `undefined` (or a function or symbol) is left
 *   out, as an unset input is; an array element that is becomes `null`, so
 *   the indices that failures name (`addresses[2]`) stay where they were;
 * - NaN and ±Infinity, which JSON state cannot hold, count as unset too;
 * - a bigint becomes a number when it is exact, else its decimal string;
 * - an object with `toJSON` (a Date, a Buffer) is what that returns, as in
 *   `JSON.stringify`, and a boxed primitive (`new String("x")`) is the
 *   primitive; a Map becomes an object (of its entries whose key is a
 *   string, number, boolean or bigint), a Set an array; any other object (a class instance too) is
 *   its own enumerable fields, never what its prototype has;
 * - strings, the engine's unknown placeholder among them, and secret
 *   wrappers go as they are (a wrapper with nothing in it is left out: the
 *   engine refuses a secret without a value).
 *
 * It never changes `value`. A cycle cannot be sent at all, so it throws a
 * TypeError that names where the cycle is, rather than overflowing the stack.
 */
export function structSafe<T>(value: T): T {
  const safe = copy(value, "value", new Set());
  return (safe === NOTHING ? undefined : safe) as T;
}

function copy(value: unknown, path: string, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : NOTHING;
    case "bigint":
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return NOTHING;
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.has(object)) throw new TypeError(`${path} refers back to an object that holds it`);
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      // An index loop, not map(): map skips the holes of a sparse array, which would stay undefined.
      const out: unknown[] = [];
      for (let i = 0; i < object.length; i++) {
        const item = copy(object[i], `${path}[${i}]`, ancestors);
        out.push(item === NOTHING ? null : item);
      }
      return out;
    }
    if (typeof (object as { toJSON?: unknown }).toJSON === "function") {
      return copy((object as { toJSON(): unknown }).toJSON(), path, ancestors);
    }
    if (isBoxed(object)) return copy(object.valueOf(), path, ancestors);
    if (object instanceof Set) return copy([...object], path, ancestors);
    const entries: [string, unknown][] =
      object instanceof Map
        ? [...object].filter(([k]) => isKey(k)).map(([k, v]) => [String(k), v])
        : Object.entries(object);
    const fields: [string, unknown][] = [];
    for (const [key, item] of entries) {
      const safe = copy(item, `${path}.${key}`, ancestors);
      if (safe !== NOTHING) fields.push([key, safe]);
    }
    if (isSecretWrapper(object) && !fields.some(([key]) => key === "value")) return NOTHING;
    // fromEntries, not assignment: a field called "__proto__" stays a field.
    return Object.fromEntries(fields);
  } finally {
    ancestors.delete(object);
  }
}

/** A primitive in an object (`new String("x")`, `Object(1n)`): JSON writes the primitive. */
function isBoxed(object: object): boolean {
  return (
    object instanceof String ||
    object instanceof Number ||
    object instanceof Boolean ||
    object instanceof BigInt ||
    object instanceof Symbol
  );
}

/** A Map key that has one text form: an object key has none (and may not even convert). */
function isKey(key: unknown): boolean {
  return ["string", "number", "boolean", "bigint"].includes(typeof key);
}

/**
 * Where a value holds secret wrappers, as the paths check failures name
 * (`connection.privateKey`, `a.addresses[1]`). Outermost wrappers only.
 */
export function secretPaths(value: unknown, path = "", seen = new Set<object>()): string[] {
  if (typeof value !== "object" || value === null || seen.has(value)) return [];
  if (isSecretWrapper(value)) return [path];
  seen.add(value);
  if (Array.isArray(value)) {
    return value.flatMap((item, i) => secretPaths(item, `${path}[${i}]`, seen));
  }
  return Object.entries(value).flatMap(([key, item]) =>
    secretPaths(item, path ? `${path}.${key}` : key, seen),
  );
}
