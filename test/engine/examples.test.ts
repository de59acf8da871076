/**
 * The examples, as CI proves them: examples/multi-host deployed by the real
 * engine on two lab hosts, each checked out of band and left exactly as it
 * was by destroy; examples/cloud-vm type-checked against @pulumi/aws (it
 * needs an AWS account to deploy, so CI does not).
 */

import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineStack, openStack } from "../../lab/engine";
import { type Lab, type LabHost, startLab } from "../../lab/labhost";
import { type HostSnapshot, snapshotHost } from "../support/snapshot";
import { ROOT, TEST_PASSPHRASE } from "./support";

/** The names of the namespaces on a host, sorted. */
async function namespacesOn(host: LabHost): Promise<string[]> {
  const out = (await host.exec(["ip", "-json", "netns", "list"])).stdout.trim();
  return ((out ? JSON.parse(out) : []) as { name: string }[]).map((n) => n.name).sort();
}

describe("examples/multi-host on two lab hosts", () => {
  let lab: Lab;
  let east: LabHost;
  let west: LabHost;
  let test: EngineStack;
  const before: Record<string, HostSnapshot> = {};

  beforeAll(async () => {
    lab = await startLab({ id: "tex", hosts: [{ name: "h1" }, { name: "h2" }] });
    east = lab.host("h1");
    west = lab.host("h2");
    for (const h of [east, west]) before[h.name] = await snapshotHost(h);
    // One connection per site, in the order of the `sites` config (east, west by default).
    const hosts = [east, west].map((h) => ({
      host: h.address,
      privateKey: h.privateKey,
      hostKey: h.hostKey,
    }));
    test = await openStack({
      workDir: path.join(ROOT, "examples", "multi-host"),
      name: "examples-multi",
      passphrase: TEST_PASSPHRASE,
      fresh: true,
      config: { hosts: { value: JSON.stringify(hosts), secret: true } },
    });
  });

  afterAll(async () => {
    // A failed step must not leave the stack's objects on the lab hosts.
    await test?.stack.destroy().catch(() => undefined);
    await test?.dispose();
    await lab?.teardown();
  });

  it("builds each host's own namespaces, which reach each other on that host", async () => {
    const up = await test.stack.up();
    expect(up.summary.result).toBe("succeeded");
    // Per host: a bridge, two namespaces, two veth pairs, two routes, a check; and the stack.
    expect(up.summary.resourceChanges).toEqual({ create: 17 });

    const sites = up.outputs.sites?.value;
    expect(sites).toEqual({
      east: expect.objectContaining({
        bridge: "br-east",
        namespaces: { web: "east-web", db: "east-db" },
        addresses: { web: "10.31.1.1", db: "10.31.1.2", gateway: "10.31.1.254" },
        interfaces: { web: "eth0", db: "eth0" },
      }),
      west: expect.objectContaining({
        bridge: "br-west",
        namespaces: { web: "west-web", db: "west-db" },
        addresses: { web: "10.31.2.1", db: "10.31.2.2", gateway: "10.31.2.254" },
      }),
    });
    expect(sites.east.check).toMatch(/healthy/);
    expect(sites.west.check).toMatch(/healthy/);
    // The stack's outputs carry no connection, so nothing in them is secret.
    expect(up.outputs.sites?.secret).toBe(false);

    // Out of band: each host has its own namespaces, and only those.
    expect(await namespacesOn(east)).toEqual(["east-db", "east-web"]);
    expect(await namespacesOn(west)).toEqual(["west-db", "west-web"]);
    const bridgeAddr = JSON.parse(
      (await west.exec(["ip", "-json", "addr", "show", "dev", "br-west"])).stdout,
    )[0];
    expect(bridgeAddr.addr_info.map((a: { local: string }) => a.local)).toContain("10.31.2.254");
    const eth0 = JSON.parse(
      (await east.exec(["ip", "-n", "east-web", "-json", "addr", "show", "dev", "eth0"])).stdout,
    )[0];
    expect(eth0.addr_info.map((a: { local: string }) => a.local)).toContain("10.31.1.1");

    // And real traffic: web -> db over the host's bridge, on each host.
    const ping = (h: LabHost, from: string, to: string) =>
      h.exec(["ip", "netns", "exec", from, "ping", "-c", "1", "-w", "10", to]);
    for (const [h, site, net] of [
      [east, "east", "10.31.1"],
      [west, "west", "10.31.2"],
    ] as const) {
      const r = await ping(h, `${site}-web`, `${net}.2`);
      expect(r.exitCode, `${site}-web -> ${net}.2 on ${h.name}: ${r.stdout}${r.stderr}`).toBe(0);
    }
  });

  it("keeps both hosts' private keys out of state and the stack export", async () => {
    const exported = test.cli(["stack", "export"]);
    const state = fs.readFileSync(test.stateFile(), "utf8");
    const settings = fs.readFileSync(
      path.join(ROOT, "examples", "multi-host", "Pulumi.examples-multi.yaml"),
      "utf8",
    );
    for (const h of [east, west]) {
      // The key's body lines, any one of which would leak it.
      const keyLines = h.privateKey
        .trim()
        .split("\n")
        .filter((l) => !l.startsWith("-----"));
      for (const [what, text] of Object.entries({ exported, state, settings })) {
        for (const line of keyLines)
          expect(text.includes(line), `${h.name} key in ${what}`).toBe(false);
      }
    }
    expect(exported).toContain("east-web"); // the right document, not an empty one
  });

  it("changes nothing on a second up", async () => {
    await test.stack.preview({ expectNoChanges: true });
    const up = await test.stack.up();
    expect(up.summary.resourceChanges).toEqual({ same: 17 });
  });

  it("destroys everything and leaves each host exactly as before", async () => {
    const destroy = await test.stack.destroy();
    expect(destroy.summary.result).toBe("succeeded");
    expect(destroy.summary.resourceChanges).toEqual({ delete: 17 });
    expect(await snapshotHost(east)).toEqual(before[east.name]);
    expect(await snapshotHost(west)).toEqual(before[west.name]);
  });
});

const run = promisify(execFile);

/** Runs a command; resolves with its exit code and output, whatever the exit code. */
async function sh(cmd: string, args: string[], cwd: string) {
  try {
    const r = await run(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: process.env });
    return { code: 0, out: `${r.stdout}${r.stderr}` };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof err.code === "number" ? err.code : -1,
      out: `${err.stdout ?? ""}${err.stderr ?? ""}` || err.message,
    };
  }
}

describe("examples/cloud-vm", () => {
  const dir = path.join(ROOT, "examples", "cloud-vm");

  it("type-checks against @pulumi/aws and the built package", async () => {
    // It resolves pulumi-linuxnet as a user's project does: through its package.json to dist/.
    const types = path.join(ROOT, "dist", "provider", "index.d.ts");
    expect(fs.existsSync(types), `${types} is missing: run \`npm run build\` first`).toBe(true);

    // Its own dependencies (@pulumi/aws is large, so not the root's): installed when missing or stale.
    const lock = path.join(dir, "package-lock.json");
    const installed = path.join(dir, "node_modules", ".package-lock.json");
    if (!fs.existsSync(installed) || fs.statSync(lock).mtimeMs > fs.statSync(installed).mtimeMs) {
      const started = Date.now();
      const ci = await sh("npm", ["ci", "--no-audit", "--no-fund"], dir);
      expect(ci.code, `npm ci in examples/cloud-vm failed:\n${ci.out}`).toBe(0);
      console.log(`examples/cloud-vm: npm ci took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }

    const tsc = await sh("npx", ["tsc", "--noEmit", "-p", "examples/cloud-vm"], ROOT);
    expect(tsc.code, `tsc --noEmit -p examples/cloud-vm:\n${tsc.out}`).toBe(0);
  }, 600_000);
});
