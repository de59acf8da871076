/**
 * `linuxnet.lab.LabHost`'s provider, called as the engine calls it: two hosts
 * share one fabric (made by the first, removed with the last), each reachable
 * over SSH with the connection it outputs; read tells a running host from a
 * gone one; delete is idempotent.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupLab, labIdOfFabric, readLabJson } from "../../lab/labhost";
import { checkLabHost, labHostProvider as p } from "../../provider/lab/runtime";
import { closeAllSessions, hostFor } from "../../provider/transport";
import { resolveConnection } from "../../provider/transport/connection";
import { requireRoot } from "../support/lab";

const FABRIC = "10.215.41.0/24";
const LAB = labIdOfFabric(FABRIC);

async function rootLinks(): Promise<string> {
  const { execFileSync } = await import("node:child_process");
  return execFileSync("ip", ["-o", "link", "show"]).toString();
}

beforeAll(async () => {
  requireRoot("the host tier");
  await cleanupLab(LAB);
});
afterAll(async () => {
  await closeAllSessions();
  await cleanupLab(LAB);
});

describe("check", () => {
  it("fills in defaults and names what is wrong", () => {
    const ok = checkLabHost({}, { resourceName: "vm-one" });
    expect(ok.failures).toEqual([]);
    expect(ok.inputs.fabric).toBe("10.213.250.0/24");
    expect(ok.inputs.sshdDelayMs).toBe(0);
    expect(ok.inputs.name).toMatch(/^vmon[a-z0-9]{2}$/);
    expect(checkLabHost(ok.inputs, { resourceName: "vm-one" }).inputs.name).toBe(ok.inputs.name);
    const bad = checkLabHost({}, { name: "Bad_Name", fabric: "10.0.0.0/8", sshdDelayMs: -1 });
    expect(bad.failures.map((f) => f.property)).toEqual(["name", "fabric", "sshdDelayMs"]);
  });
});

describe("two hosts on one fabric", () => {
  it("makes the fabric with the first, shares it, reaches each over SSH, removes it with the last", async () => {
    const inputs = (name: string, sshdDelayMs = 0) =>
      checkLabHost({}, { resourceName: name, name, fabric: FABRIC, sshdDelayMs }).inputs;
    const a = await p.create(inputs("lha"));
    const b = await p.create(inputs("lhb", 1500));
    expect(a.id).toBe(`${LAB}/lha`);
    expect(a.outs.address).toBe("10.215.41.11");
    expect(b.outs.address).toBe("10.215.41.12");
    expect(a.outs.bootId).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.outs.bootId).not.toBe(b.outs.bootId);
    expect((await readLabJson(LAB))?.hosts.map((h) => h.name)).toEqual(["lha", "lhb"]);
    expect(await rootLinks()).toContain(`lnl${LAB}f`);

    for (const made of [a, b]) {
      const { connection, failures } = resolveConnection({
        ...made.outs.connection,
        dialTimeoutMs: 10_000,
      });
      expect(failures).toEqual([]);
      const r = await hostFor(connection!).run(["cat", "/proc/sys/kernel/random/boot_id"]);
      expect(r.stdout.trim()).toBe(made.outs.bootId);
    }
    expect(await p.read!(a.id, a.outs)).toMatchObject({
      id: a.id,
      props: { address: a.outs.address },
    });

    await closeAllSessions();
    await p.delete!(a.id, a.outs);
    expect(await p.read!(a.id, a.outs)).toEqual({});
    // The fabric stays for the other host.
    expect(await rootLinks()).toContain(`lnl${LAB}f`);
    await p.delete!(a.id, a.outs); // idempotent
    await p.delete!(b.id, b.outs);
    expect(await rootLinks()).not.toContain(`lnl${LAB}f`);
    expect(await readLabJson(LAB)).toBeUndefined();
  });
});
