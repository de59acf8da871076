/**
 * `linuxnet.lab.LabHost` without a machine: its inputs checked (defaults, a
 * name kept across updates, each mistake named), what replaces it, and the
 * lab id of a fabric.
 */

import { describe, expect, it } from "vitest";
import { labIdOfFabric } from "../../lab/labhost";
import { DEFAULT_LAB_FABRIC, checkLabHost, labHostProvider } from "../../provider/lab/runtime";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

describe("checkLabHost", () => {
  it("fills in the defaults and keeps a generated name across updates", () => {
    const first = checkLabHost({}, { resourceName: "Vm-One" });
    expect(first.failures).toEqual([]);
    expect(first.inputs).toMatchObject({
      fabric: DEFAULT_LAB_FABRIC,
      sshdDelayMs: 0,
      autoNamed: true,
    });
    expect(first.inputs.name).toMatch(/^vmon[a-z0-9]{2}$/);
    expect(checkLabHost(first.inputs, { resourceName: "Vm-One" }).inputs.name).toBe(
      first.inputs.name,
    );
  });

  it("normalises the fabric to its network", () => {
    expect(checkLabHost({}, { fabric: "10.215.9.77/24" }).inputs.fabric).toBe("10.215.9.0/24");
  });

  it("names each mistake", () => {
    const { failures } = checkLabHost(
      {},
      { name: "Bad_Name", fabric: "10.0.0.0/8", sshdDelayMs: 1.5 },
    );
    expect(failures.map((f) => f.property)).toEqual(["name", "fabric", "sshdDelayMs"]);
    expect(checkLabHost({}, { name: "fab" }).failures[0]?.property).toBe("name");
    expect(checkLabHost({}, { sshdDelayMs: 600_001 }).failures[0]?.reason).toMatch(/0 to 600000/);
  });

  it("lets unknown values through (a preview)", () => {
    expect(
      checkLabHost({}, { name: UNKNOWN, fabric: UNKNOWN, sshdDelayMs: UNKNOWN }).failures,
    ).toEqual([]);
  });
});

describe("diff", () => {
  it("replaces on any change, deleting first; nothing else changes", async () => {
    const olds = {
      name: "vm",
      fabric: DEFAULT_LAB_FABRIC,
      sshdDelayMs: 0,
      address: "10.213.250.11",
    };
    expect(
      await labHostProvider.diff!("x", olds, {
        name: "vm",
        fabric: DEFAULT_LAB_FABRIC,
        sshdDelayMs: 0,
      }),
    ).toMatchObject({ changes: false });
    expect(await labHostProvider.diff!("x", olds, { ...olds, sshdDelayMs: 5 })).toMatchObject({
      changes: true,
      replaces: ["sshdDelayMs"],
      deleteBeforeReplace: true,
    });
  });
});

describe("labIdOfFabric", () => {
  it("is lh and the network address in hex: a valid lab id", () => {
    expect(labIdOfFabric("10.213.250.0/24")).toBe("lh0ad5fa00");
    expect(labIdOfFabric("10.213.250.9/24")).toBe("lh0ad5fa00");
  });
});
