/**
 * A host that reboots: every object records the host's boot id at create, a
 * refresh on another boot reports it gone (the host dropped its namespaces,
 * links, routes and rules), and creating it again works. The lab host
 * "reboots" with {@link rebootLabHost}: same address and host key, its
 * namespaces gone, a new boot id bound over `/proc/sys/kernel/random/boot_id`.
 */

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Lab, type LabHost, rebootLabHost, startLab } from "../../lab/labhost";
import { hostSnapshots } from "../../provider/runtime";
import { closeAllSessions, transportStats } from "../../provider/transport";
import { requireRoot } from "../support/lab";
import { Driver, type LabContext, type Managed, namespaces, own } from "./support";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let lab: Lab;
let vm: LabHost;
let ctx: LabContext;

beforeAll(async () => {
  requireRoot("the host tier");
  lab = await startLab({ id: "lhboot", hosts: [{ name: "vm" }, { name: "other" }] });
  vm = lab.host("vm");
  ctx = {
    lab,
    h: vm,
    connection: { host: vm.address, privateKey: vm.privateKey, hostKey: vm.hostKey },
    connectionsAtStart: transportStats.connections,
  };
});

afterAll(async () => {
  await closeAllSessions();
  await lab?.teardown();
});

async function bootIdOf(h: LabHost): Promise<string> {
  const r = await h.exec(["cat", "/proc/sys/kernel/random/boot_id"]);
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe("boot ids", () => {
  it("gives each lab host its own boot id, not the machine's", async () => {
    const [a, b] = await Promise.all([bootIdOf(vm), bootIdOf(lab.host("other"))]);
    expect(a).toMatch(UUID);
    expect(b).toMatch(UUID);
    expect(a).not.toBe(b);
    const { readFile } = await import("node:fs/promises");
    expect(a).not.toBe((await readFile("/proc/sys/kernel/random/boot_id", "utf8")).trim());
  });

  it("records it at create; after a reboot refresh reports the objects gone, create works again, pings work", async () => {
    const ns = new Driver("Namespace", ctx);
    const veth = new Driver("VethPair", ctx);
    const make = async (): Promise<[Managed, Managed]> => {
      const n = await ns.create({ name: "lhb-ns" });
      const v = await veth.create({
        a: { name: "lhb-a", namespace: "lhb-ns", addresses: ["10.77.0.1/24"] },
        b: { name: "lhb-b", addresses: ["10.77.0.2/24"] },
      });
      return [n, v];
    };
    const ping = () =>
      vm.exec(["ip", "netns", "exec", "lhb-ns", "ping", "-c1", "-W2", "10.77.0.2"]);

    const [n1, v1] = await make();
    const before = await bootIdOf(vm);
    expect(n1.outs.bootId).toBe(before);
    expect(v1.outs.bootId).toBe(before);
    expect((await ping()).exitCode).toBe(0);
    // Same boot: refresh keeps them, with the same boot id, and no drift.
    await ns.expectNoDrift(n1);
    await veth.expectNoDrift(v1);

    const started = Date.now();
    await rebootLabHost(vm);
    console.log(`lab host reboot took ${Date.now() - started} ms`);
    const after = await bootIdOf(vm);
    expect(after).toMatch(UUID);
    expect(after).not.toBe(before);
    expect(await namespaces(vm)).not.toContain("lhb-ns");
    // As a new `pulumi refresh` would: not the snapshot the reads above took before the reboot.
    hostSnapshots.clear();

    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      expect(await ns.read(n1)).toBeUndefined();
      expect(await veth.read(v1)).toBeUndefined();
      const said = warn.mock.calls.map((c) => String(c[0]));
      console.log(`the warning: ${said[0]}`);
      expect(said[0]).toContain(`${vm.address} booted again since`);
      expect(said[0]).toContain(`boot id ${before}, now ${after}`);
      expect(said[0]).toContain("the next up makes it again");
    } finally {
      warn.mockRestore();
    }

    // `up` recreates them: not "already exists", and they work.
    const [n2, v2] = await make();
    expect(n2.outs.bootId).toBe(after);
    expect(v2.outs.bootId).toBe(after);
    expect((await ping()).exitCode).toBe(0);
    await ns.expectNoDrift(n2);
    await veth.expectNoDrift(v2);
    await veth.delete(v2);
    await ns.delete(n2);
    expect(await namespaces(vm)).not.toContain("lhb-ns");
  });

  it("reads state recorded before boot ids (none in it) as before: no gone, no drift", async () => {
    const ns = new Driver("Namespace", ctx);
    const res = await ns.create({ name: "lhb-old" });
    const { bootId: _dropped, ...old } = res.outs;
    const props = await ns.read({ ...res, outs: old });
    expect(props).toBeDefined();
    expect(own(props)).toEqual(own(res.outs));
    const d = await ns.provider.diff!(res.id, { ...props }, res.inputs);
    expect(d.changes).toBe(false);
    await ns.delete(res);
  });
});
