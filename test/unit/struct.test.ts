/**
 * structSafe: what the runtime sends the engine must survive google-protobuf's
 * `Struct.fromJavaScript` (the SDK's dynamic-provider process calls it on
 * every answer) and JSON (the engine's state), with every plain value kept.
 */

import fc from "fast-check";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import { describe, expect, it } from "vitest";
import { secretPaths, structSafe } from "../../provider/struct";
import { UNKNOWN, containsNonFinite, containsUndefined } from "./support";

/** The SDK's marker of a secret value on the wire (runtime/rpc.js: specialSigKey, specialSecretSig). */
const secret = (value: unknown) => ({
  "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
  value,
});

function toStruct(value: unknown): structproto.Struct {
  return structproto.Struct.fromJavaScript(value as Record<string, structproto.JavaScriptValue>);
}

describe("structSafe", () => {
  it("leaves every JSON value as the engine stores it (-0 is stored as 0)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(JSON.stringify(structSafe(v))).toBe(JSON.stringify(v));
      }),
      { numRuns: 5000 },
    );
  });

  it("makes any data a kind can hand back into a value Struct.fromJavaScript takes and JSON can store", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string(),
          fc.anything({
            withBoxedValues: true,
            withDate: true,
            withNullPrototype: true,
            withSparseArray: true,
            withObjectString: true,
          }),
        ),
        (v) => {
          const safe = structSafe(v);
          toStruct(safe).serializeBinary();
          expect(containsUndefined(safe)).toBe(false);
          expect(containsNonFinite(safe)).toBe(false);
        },
      ),
    );
  });

  it.each([
    {
      label: "a Route's unset gateway is left out (issue 9)",
      value: { destination: "10.1.0.0/24", via: undefined, device: "eth0" },
      want: { destination: "10.1.0.0/24", device: "eth0" },
    },
    { label: "an undefined field is left out", value: { a: undefined, b: 1 }, want: { b: 1 } },
    { label: "an undefined element becomes null", value: [1, undefined], want: [1, null] },
    { label: "a hole becomes null", value: [1, , 3], want: [1, null, 3] }, // eslint-disable-line no-sparse-arrays
    { label: "NaN is left out", value: { mtu: Number.NaN }, want: {} },
    { label: "Infinity in a list becomes null", value: [Number.POSITIVE_INFINITY], want: [null] },
    {
      label: "a Date is its ISO text",
      value: { at: new Date(0) },
      want: { at: "1970-01-01T00:00:00.000Z" },
    },
    { label: "a function is left out", value: { f: () => 1 }, want: {} },
    { label: "a boxed string is the string", value: { s: Object("x") }, want: { s: "x" } },
    {
      label: "the unknown placeholder is kept",
      value: { host: UNKNOWN, l: [UNKNOWN] },
      want: { host: UNKNOWN, l: [UNKNOWN] },
    },
    { label: "a secret wrapper is kept", value: { k: secret("key") }, want: { k: secret("key") } },
    {
      label: "a class instance is its own fields",
      value: {
        e: new (class {
          a = 1;
          b = undefined;
          get c() {
            return 2;
          }
        })(),
      },
      want: { e: { a: 1 } },
    },
  ])("$label", ({ value, want }) => {
    expect(structSafe(value)).toEqual(want);
    toStruct(structSafe(value)).serializeBinary();
  });

  it("does not change what it is given", () => {
    const value = { a: undefined, l: [undefined] };
    structSafe(value);
    expect(value).toEqual({ a: undefined, l: [undefined] });
    expect("a" in value).toBe(true);
  });
});

describe("secretPaths", () => {
  it.each([
    { label: "none in plain values", value: { a: { name: "x" }, l: [1, "y"] }, want: [] },
    {
      label: "a field and a list element, as failures name them",
      value: { connection: { privateKey: secret("k") }, a: { addresses: ["x", secret("y")] } },
      want: ["connection.privateKey", "a.addresses[1]"],
    },
    {
      label: "only the outer wrapper of a nested one",
      value: { k: secret(secret("v")) },
      want: ["k"],
    },
  ])("finds $label", ({ value, want }) => {
    expect(secretPaths(value)).toEqual(want);
  });
});
