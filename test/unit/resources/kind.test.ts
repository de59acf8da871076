import { describe, expect, it } from "vitest";
import {
  autoName,
  checkConnection,
  containsUnknown,
  sameValue,
  transactional,
} from "../../../provider/resources/kind";
import { Checker } from "../../../provider/resources/validate";
import { CONNECTION, UNKNOWN, labelled } from "../support";

describe("autoName", () => {
  it.each(
    labelled([
      {
        label: "a short resource name",
        resourceName: "blue",
        max: 15,
        suffix: "",
        pattern: /^blue-[0-9a-f]{5}$/,
      },
      {
        label: "a long resource name cut to fit",
        resourceName: "a".repeat(40),
        max: 15,
        suffix: "",
        pattern: /^a{9}-[0-9a-f]{5}$/,
      },
      {
        label: "a suffix within the limit",
        resourceName: "a".repeat(40),
        max: 15,
        suffix: "b",
        pattern: /^a{8}-[0-9a-f]{5}b$/,
      },
      {
        label: "no resource name",
        resourceName: undefined,
        max: 15,
        suffix: "",
        pattern: /^ln-[0-9a-f]{5}$/,
      },
      {
        label: "a resource name with no usable character",
        resourceName: "ü€",
        max: 15,
        suffix: "",
        pattern: /^ln-[0-9a-f]{5}$/,
      },
      {
        label: "a resource name with leading dots and dashes",
        resourceName: "-.-x",
        max: 15,
        suffix: "",
        pattern: /^x-[0-9a-f]{5}$/,
      },
      {
        label: "a namespace name of up to 32 bytes",
        resourceName: "n".repeat(40),
        max: 32,
        suffix: "",
        pattern: /^n{26}-[0-9a-f]{5}$/,
      },
    ]),
  )("makes a name from %s", (_label, { resourceName, max, suffix, pattern }) => {
    const name = autoName(resourceName, undefined, max, suffix);
    expect(name).toMatch(pattern);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(max);
  });

  it("keeps a name made before", () => {
    expect(autoName("blue", "blue-12345", 15)).toBe("blue-12345");
  });

  it("makes a fresh name when the old one is empty", () => {
    expect(autoName("blue", "", 15)).toMatch(/^blue-[0-9a-f]{5}$/);
  });

  it("makes a name from ln when the resource name is not a string", () => {
    expect(autoName({ value: "blue" }, undefined, 15)).toMatch(/^ln-[0-9a-f]{5}$/);
  });

  it("makes different names on different calls", () => {
    const names = new Set(Array.from({ length: 20 }, () => autoName("x", undefined, 15)));
    expect(names.size).toBeGreaterThan(1);
  });
});

describe("containsUnknown", () => {
  it.each(
    labelled([
      { label: "the placeholder itself", value: UNKNOWN, unknown: true },
      { label: "a list holding it", value: ["a", UNKNOWN], unknown: true },
      { label: "an object holding it deep down", value: { a: { b: [UNKNOWN] } }, unknown: true },
      { label: "a plain object", value: { host: "10.1.0.2" }, unknown: false },
      { label: "undefined", value: undefined, unknown: false },
      { label: "null", value: null, unknown: false },
    ]),
  )("tells about %s", (_label, { value, unknown }) => {
    expect(containsUnknown(value)).toBe(unknown);
  });
});

describe("sameValue", () => {
  it.each(
    labelled([
      { label: "undefined and null as the same", a: undefined, b: null, same: true },
      { label: "equal lists as the same", a: ["a", "b"], b: ["a", "b"], same: true },
      { label: "lists in another order as different", a: ["a", "b"], b: ["b", "a"], same: false },
      { label: "false and undefined as different", a: false, b: undefined, same: false },
    ]),
  )("sees %s", (_label, { a, b, same }) => {
    expect(sameValue(a, b)).toBe(same);
  });
});

describe("checkConnection", () => {
  it("resolves a good connection", () => {
    const c = new Checker();
    expect(checkConnection(c, CONNECTION)).toMatchObject({
      host: "10.1.0.2",
      port: 22,
      user: "root",
    });
    expect(c.failures).toEqual([]);
  });

  it.each(
    labelled([
      { label: "the whole connection", raw: UNKNOWN },
      { label: "the host", raw: { ...CONNECTION, host: UNKNOWN } },
      { label: "the jump host's host", raw: { ...CONNECTION, proxy: { host: UNKNOWN } } },
    ]),
  )("says nothing when %s is not known yet", (_label, { raw }) => {
    const c = new Checker();
    expect(checkConnection(c, raw)).toBeUndefined();
    expect(c.failures).toEqual([]);
  });

  it("names the field of a bad connection", () => {
    const c = new Checker();
    checkConnection(c, { host: "10.1.0.2", port: 0 });
    expect(c.failures.map((f) => f.property)).toEqual(["connection.port"]);
  });
});

describe("transactional", () => {
  it("returns the result and undoes nothing when every step succeeds", async () => {
    const undone: string[] = [];
    const result = await transactional(async (undo) => {
      undo(async () => undone.push("first"));
      return 42;
    });
    expect(result).toBe(42);
    expect(undone).toEqual([]);
  });

  it("undoes the earlier steps, newest first, and rethrows the first error", async () => {
    const undone: string[] = [];
    const failure = transactional(async (undo) => {
      undo(async () => undone.push("first"));
      undo(async () => undone.push("second"));
      throw new Error("third step failed");
    });
    await expect(failure).rejects.toThrow(/^third step failed$/);
    expect(undone).toEqual(["second", "first"]);
  });

  it("adds a failed undo to the message instead of hiding the first error", async () => {
    const failure = transactional(async (undo) => {
      undo(async () => {
        throw new Error("could not delete br0");
      });
      throw new Error("addr add failed");
    });
    await expect(failure).rejects.toThrow(
      "addr add failed (and undoing the earlier steps failed: could not delete br0)",
    );
  });
});
