/**
 * Hosts that come and go, through the real engine, with `linuxnet.lab.LabHost`
 * as the VM: one stack with two lab hosts and a network on each built from
 * the hosts' outputs (`connection: vm.connection`), one host's sshd starting
 * 15 s late. Preview (addresses unknown) and up succeed; a host rebooted
 * loses its objects, refresh says so and up makes them again; a host removed
 * out of band fails refresh and destroy within the dial deadline with the
 * remedies, `linuxnet:deleteUnreachable` lets refresh and destroy count its
 * objects gone with a warning the CLI shows, and with `deletedWith: vm`
 * destroy succeeds without dialling the gone host. Then examples/ephemeral-vm
 * is deployed and destroyed.
 */

import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineStack, openStack } from "../../lab/engine";
import {
  type LabHost,
  cleanupLab,
  findLabHost,
  labIdOfFabric,
  readLabJson,
  rebootLabHost,
  removeLabHost,
} from "../../lab/labhost";
import { requireRoot } from "../support/lab";
import { ROOT, TEST_PASSPHRASE } from "./support";

const FABRIC = "10.215.42.0/24";
const LAB = labIdOfFabric(FABRIC);
const EXAMPLE_FABRIC = "10.215.43.0/24";
const LATE_MS = 15_000;
const DIAL_MS = 4_000;
/** What a refresh or destroy of a gone host may take beyond the dial deadline (engine start-up included). */
const MARGIN_MS = 20_000;

let test: EngineStack;
const project = "linuxnet-hosts";
const stackName = "lh-hosts";
const urn = (type: string, name: string) =>
  `urn:pulumi:${stackName}::${project}::pulumi-nodejs:dynamic/linuxnet:${type}::${name}`;

/** The lab host `name` as lab.json records it, with what rebootLabHost and removeLabHost need. */
async function labHost(name: string): Promise<LabHost> {
  const h = await findLabHost(LAB, name);
  if (!h) throw new Error(`no lab host ${name}`);
  return h as unknown as LabHost;
}

/** Runs `work`, returning how long it took and its error (undefined when it succeeded). */
async function timed(
  work: () => Promise<unknown>,
): Promise<{ ms: number; error?: Error; out: string }> {
  const started = Date.now();
  let out = "";
  try {
    const r = (await work()) as { stdout?: string; stderr?: string };
    out = `${r?.stdout ?? ""}\n${r?.stderr ?? ""}`;
    return { ms: Date.now() - started, out };
  } catch (e) {
    return { ms: Date.now() - started, error: e as Error, out: String((e as Error).message) };
  }
}

beforeAll(async () => {
  requireRoot("the engine tier's lab hosts");
  await cleanupLab(LAB);
  test = await openStack({
    workDir: path.join(ROOT, "test", "engine", "fixtures", "hosts"),
    name: stackName,
    passphrase: TEST_PASSPHRASE,
    fresh: true,
    config: {
      fabric: { value: FABRIC },
      lateMs: { value: String(LATE_MS) },
    },
  });
}, 120_000);

afterAll(async () => {
  await test?.stack.removeConfig("linuxnet:deleteUnreachable").catch(() => undefined);
  await test?.stack.setConfig("linuxnet:deleteUnreachable", { value: "true" }).catch(() => 0);
  await test?.stack.destroy().catch(() => undefined);
  await test?.dispose();
  await cleanupLab(LAB);
  await cleanupLab(labIdOfFabric(EXAMPLE_FABRIC));
});

describe("two lab hosts and a network on each", () => {
  it("previews with the addresses unknown, and comes up though vm-b's sshd starts 15 s late", async () => {
    const preview = await test.stack.preview();
    // Two VMs and three resources on each, and the stack itself.
    expect(preview.changeSummary.create).toBe(9);
    const up = await timed(() => test.stack.up());
    console.log(`up with vm-b booting ${LATE_MS} ms: ${up.ms} ms`);
    expect(up.error).toBeUndefined();
    expect(up.ms).toBeGreaterThanOrEqual(LATE_MS);
    const outputs = await test.stack.outputs();
    const { a, b } = outputs.addresses!.value as { a: string; b: string };
    expect([a, b].sort()).toEqual(["10.215.42.11", "10.215.42.12"]);
    expect((await readLabJson(LAB))?.hosts.map((h) => h.name).sort()).toEqual(["lha", "lhb"]);
  }, 180_000);

  it("dials with a shorter deadline from now on (an update of state only)", async () => {
    await test.stack.setConfig("dialTimeoutMs", { value: String(DIAL_MS) });
    const up = await test.stack.up();
    expect(up.summary.result).toBe("succeeded");
  }, 180_000);

  it("after vm-a reboots, refresh shows its objects gone with the reason; up makes them again and the check passes", async () => {
    const before = (await test.stack.outputs()).bootIds!.value as { a: string };
    await rebootLabHost(await labHost("lha"));
    const refresh = await timed(() => test.stack.refresh());
    expect(refresh.error).toBeUndefined();
    console.log(`refresh after a reboot: ${refresh.ms} ms`);
    const said = refresh.out.split("\n").filter((l) => l.includes("booted again"));
    console.log(`the CLI shows:\n${said.join("\n")}`);
    expect(said.length).toBeGreaterThan(0);
    expect(said[0]).toContain(`booted again since`);
    expect(said[0]).toContain(`boot id ${before.a}`);
    const ns = (await test.stack.exportStack()).deployment.resources.filter(
      (r: { urn: string }) => r.urn === urn("Namespace", "ns-a"),
    );
    expect(ns).toEqual([]);
    const up = await test.stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges?.create).toBe(3);
    const after = (await test.stack.outputs()).bootIds!.value as { a: string };
    expect(after.a).not.toBe(before.a);
    // check-a, made again, pinged from lh-a to the host's end: up would have failed otherwise.
  }, 180_000);

  it("with vm-b removed out of band, refresh and destroy fail within the dial deadline, naming the remedies", async () => {
    const { b } = (await test.stack.outputs()).addresses!.value as { b: string };
    await removeLabHost(await labHost("lhb"));
    for (const op of ["refresh", "destroy"] as const) {
      const r = await timed(() => (op === "refresh" ? test.stack.refresh() : test.stack.destroy()));
      console.log(`${op} of a gone host: ${r.ms} ms`);
      expect(r.error, `${op} succeeded`).toBeDefined();
      const line = r.out.split("\n").find((l) => l.includes("If the host is gone for good"));
      console.log(`the CLI shows: ${line?.trim()}`);
      expect(r.out).toContain(`ssh to ${b}: not reachable within ${DIAL_MS} ms`);
      expect(r.out).toContain("deletedWith: vm");
      expect(r.out).toContain("linuxnet:deleteUnreachable true");
      expect(r.out).toContain("pulumi state delete");
      // Said once, without the provider's stack frames.
      expect(line!.split("If the host is gone for good").length - 1).toBe(1);
      expect(r.out).not.toMatch(/\n\s+at .*\.js:\d+/);
      expect(r.ms).toBeLessThan(DIAL_MS + MARGIN_MS);
    }
  }, 180_000);

  it("with linuxnet:deleteUnreachable, refresh and destroy count its objects gone and warn; destroy removes the networks before the VMs", async () => {
    await test.stack.setConfig("linuxnet:deleteUnreachable", { value: "true" });
    // Refresh of vm-b's namespace alone, so that its veth and check are left for destroy.
    // `--run-program`: without it, refresh and destroy configure the provider as the last up did.
    const refresh = await timed(() =>
      test.stack.refresh({ target: [urn("Namespace", "ns-b")], runProgram: true }),
    );
    expect(refresh.error).toBeUndefined();
    const warned = (out: string) =>
      out.split("\n").filter((l) => l.includes("connection.deleteUnreachable is set"));
    console.log(`refresh: ${refresh.ms} ms; the CLI shows:\n${warned(refresh.out).join("\n")}`);
    expect(warned(refresh.out).length).toBeGreaterThan(0);
    expect(refresh.ms).toBeLessThan(DIAL_MS + MARGIN_MS);

    const events: string[] = [];
    const destroy = await timed(() =>
      test.stack.destroy({
        runProgram: true,
        onEvent: (e) => {
          const done = e.resOutputsEvent?.metadata;
          if (done?.op === "delete") events.push(done.urn.split("::").pop()!);
        },
      }),
    );
    console.log(`destroy: ${destroy.ms} ms; the CLI shows:\n${warned(destroy.out).join("\n")}`);
    expect(destroy.error).toBeUndefined();
    expect(warned(destroy.out).length).toBeGreaterThan(0);
    expect(destroy.ms).toBeLessThan(DIAL_MS + MARGIN_MS);
    // vm-a's network went before vm-a (it needed vm-a to be there).
    expect(events.indexOf("ns-a")).toBeLessThan(events.indexOf("vm-a"));
    expect(events.indexOf("veth-a")).toBeLessThan(events.indexOf("vm-a"));
    expect(await readLabJson(LAB)).toBeUndefined();
    await test.stack.removeConfig("linuxnet:deleteUnreachable");
  }, 180_000);

  it("with deletedWith: vm, destroy succeeds without dialling a gone VM", async () => {
    await test.stack.setConfig("deletedWith", { value: "true" });
    await test.stack.setConfig("lateMs", { value: "0" });
    const up = await test.stack.up();
    expect(up.summary.result).toBe("succeeded");
    await removeLabHost(await labHost("lhb"));
    const destroy = await timed(() => test.stack.destroy());
    console.log(`destroy with deletedWith and vm-b gone: ${destroy.ms} ms`);
    expect(destroy.error).toBeUndefined();
    expect(destroy.ms).toBeLessThan(DIAL_MS + MARGIN_MS);
    expect(destroy.out).not.toContain("not reachable");
    expect(await readLabJson(LAB)).toBeUndefined();
  }, 180_000);
});

describe("examples/ephemeral-vm", () => {
  let example: EngineStack;
  afterAll(async () => {
    await example?.stack.destroy().catch(() => undefined);
    await example?.dispose();
  });

  it("deploys a VM and the network on it, checked, and destroys them with the VM", async () => {
    example = await openStack({
      workDir: path.join(ROOT, "examples", "ephemeral-vm"),
      name: "lh-ephemeral",
      passphrase: TEST_PASSPHRASE,
      fresh: true,
      config: { fabric: { value: EXAMPLE_FABRIC }, bootMs: { value: "3000" } },
    });
    const up = await timed(() => example.stack.up());
    console.log(`examples/ephemeral-vm up: ${up.ms} ms`);
    expect(up.error).toBeUndefined();
    const outputs = await example.stack.outputs();
    expect(outputs.connectivity!.value).toMatch(/healthy/);
    expect(outputs.address!.value).toBe("10.215.43.11");
    const destroy = await timed(() => example.stack.destroy());
    console.log(`examples/ephemeral-vm destroy: ${destroy.ms} ms`);
    expect(destroy.error).toBeUndefined();
    expect(await readLabJson(labIdOfFabric(EXAMPLE_FABRIC))).toBeUndefined();
  }, 240_000);
});
