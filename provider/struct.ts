/**
 * Values as the engine can carry them. Everything a dynamic provider hands
 * back (check's inputs, diff's result, outputs, read's properties, the
 * properties of a partly created resource) is turned into a protobuf `Struct`
 * by google-protobuf's `Struct.fromJavaScript` in the SDK's dynamic-provider
 * process, which throws `Unexpected struct type.` on `undefined` anywhere in
 * it (pulumi#2205), and then stored by the
 * engine as JSON, which has no NaN or Infinity. Imports nothing of ours.
 */

/** The key and value that mark a secret in the engine's wire format (the SDK's `specialSigKey`/`specialSecretSig`). */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

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
 * store: its JSON form, since everything we hand back is plain data (the
 * engine's request and our own outputs). JSON leaves out an object field that
 * is `undefined` (or a function), as an unset input is, and writes such an
 * array element as `null`, so the indices failures name (`addresses[2]`)
 * stay where they were; NaN and ±Infinity, which JSON state cannot hold,
 * count as unset too. Strings (the engine's unknown placeholder among them)
 * and secret wrappers go as they are. It never changes `value`.
 */
export function structSafe<T>(value: T): T {
  const text = JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "number" && !Number.isFinite(v) ? undefined : v,
  );
  return (text === undefined ? undefined : JSON.parse(text)) as T;
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
