/**
 * Boot ids, without a host: the snapshot's `boot` line, and the rule that an
 * object recorded on another boot is gone (state from before boot ids reads as before).
 */

import { describe, expect, it } from "vitest";
import { parseBootId, parseHostSnapshot, snapshotArgv } from "../../provider/host/snapshot";
import { bootedSince } from "../../provider/runtime";

const M = "linuxnet-snapshot-0123456789abcdef";
const A = "d6790230-4023-45b3-bcaf-07e4e08fb6b5";
const B = "06e3c913-2cd2-4a3d-9a47-850fe448e5c6";
const props = { resourceName: "blue", connection: { host: "10.0.0.9" } };

describe("the snapshot's boot id", () => {
  const dump = (boot: string) =>
    [`${M} snapshot 1`, `${M} boot ${boot}`, `${M} host`, `${M} done`, ""].join("\n");

  it("is read by the dump's own shell, before any namespace", () => {
    expect(snapshotArgv(M)[2]).toContain("read -r b 2>/dev/null </proc/sys/kernel/random/boot_id");
  });

  it("is parsed from the boot line", () => {
    expect(parseHostSnapshot(dump(A), "h").bootId).toBe(A);
  });

  it("is left out when the host printed none or something else", () => {
    expect(parseHostSnapshot(dump(""), "h")).not.toHaveProperty("bootId");
    expect(parseHostSnapshot(dump("not-a-uuid"), "h")).not.toHaveProperty("bootId");
    const old = [`${M} snapshot 1`, `${M} host`, `${M} done`, ""].join("\n");
    expect(parseHostSnapshot(old, "h")).not.toHaveProperty("bootId");
  });

  it("accepts only the kernel's form", () => {
    expect(parseBootId(`${A}\n`)).toBe(A);
    expect(parseBootId("A")).toBeUndefined();
    expect(parseBootId(A.toUpperCase())).toBeUndefined();
  });
});

describe("bootedSince", () => {
  it("says why for an object recorded on another boot", () => {
    expect(bootedSince(props, A, B)).toBe(
      `10.0.0.9 booted again since blue was made (boot id ${A}, now ${B}): counted as gone, so the next up makes it again`,
    );
  });

  it("says nothing on the same boot, for state without a boot id, and when the host tells none", () => {
    expect(bootedSince(props, A, A)).toBeUndefined();
    expect(bootedSince(props, undefined, B)).toBeUndefined();
    expect(bootedSince(props, A, undefined)).toBeUndefined();
  });
});
