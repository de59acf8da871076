/**
 * The lab stack (the root Pulumi.yaml) through the whole lifecycle on the real
 * engine, the step list trusted providers use: preview, up, the host checked
 * out of band, up and refresh with no changes, an in-place edit, a replacing
 * edit, drift repaired, destroy back to exactly the host we started from, and
 * destroy again. The steps share one stack and run in order.
 */

import type { EngineEvent, OpType } from "@pulumi/pulumi/automation";
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, type LabHost, startLab } from "../../lab/labhost";
import { type HostSnapshot, snapshotHost } from "../support/snapshot";
import { ROOT, TEST_PASSPHRASE, createTestStack, labHostConfig, type TestStack } from "./support";

/** The operation the engine took on each resource (by its name), from the event stream. */
function operations(events: EngineEvent[]): Record<string, OpType[]> {
  const ops: Record<string, OpType[]> = {};
  for (const e of events) {
    const pre = e.resourcePreEvent?.metadata;
    // The stack, and the default provider (it holds the stack config, so any config edit updates it).
    if (!pre || pre.type === "pulumi:pulumi:Stack" || pre.type.startsWith("pulumi:providers:"))
      continue;
    const name = pre.urn.split("::").pop()!;
    (ops[name] ??= []).push(pre.op);
  }
  return ops;
}

function changed(ops: Record<string, OpType[]>): Record<string, OpType[]> {
  return Object.fromEntries(Object.entries(ops).filter(([, o]) => !o.every((x) => x === "same")));
}

describe("the lab stack on the real engine", () => {
  let lab: Lab;
  let h1: LabHost;
  let upstream: LabHost;
  let test: TestStack;
  let before: HostSnapshot;

  const ns = async (name: string, argv: string[]) =>
    h1.exec(["ip", "netns", "exec", name, ...argv]);
  // One reply within 10 s. A neighbour recreated with a new MAC is reached only once the sender's
  // stale ARP entry has been probed and replaced (a few seconds), as on any real host.
  const ping = async (from: string, to: string) =>
    (await ns(from, ["ping", "-c", "1", "-w", "10", to])).exitCode;
  const quickPing = async (from: string, to: string) =>
    (await ns(from, ["ping", "-c", "1", "-W", "1", to])).exitCode;
  /** A TCP service on 10.0.0.2:80 in ns-green that answers with what it got; returns its pid. */
  const startService = async () => {
    const server = `require("net").createServer((s) => s.once("data", (d) => s.end("ns-green got " + JSON.stringify(String(d)) + " from " + s.remoteAddress))).listen(80, "10.0.0.2")`;
    const pid = (
      await h1.exec([
        "sh",
        "-c",
        'ip netns exec ns-green node -e "$1" >/dev/null 2>&1 & echo $!',
        "sh",
        server,
      ])
    ).stdout.trim();
    for (let i = 0; i < 50; i++) {
      if ((await ns("ns-green", ["ss", "-Hltn", "sport", "=", ":80"])).stdout.trim()) return pid;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("the service in ns-green did not listen");
  };
  /** Connects from `from` to `address`:8080, sends `msg`, and returns the answer (logged: the transcript). */
  const exchange = async (from: LabHost, address: string, msg: string) => {
    const client = `const s = require("net").connect(8080, process.argv[1], () => s.write(process.argv[2])); let out = ""; s.on("data", (d) => (out += d)); s.on("end", () => { console.log(out); process.exit(0); }); s.on("error", (e) => { console.log("ERROR " + e.code); process.exit(1); }); setTimeout(() => { console.log("TIMEOUT"); process.exit(2); }, 3000);`;
    const answer = (await from.exec(["node", "-e", client, address, msg])).stdout.trim();
    console.log(
      `[transcript] ${from.name} -> tcp ${address}:8080\n  sent:     ${JSON.stringify(msg)}\n  received: ${answer}`,
    );
    return answer;
  };
  /** The root qdisc of ns-blue's uplink (veth-blue), out of band. */
  const uplinkQdisc = async (namespace = "ns-blue") =>
    (
      JSON.parse(
        (await h1.exec(["tc", "-n", namespace, "-json", "qdisc", "show", "dev", "veth-blue"]))
          .stdout || "[]",
      ) as { root?: boolean }[]
    ).find((q) => q.root);

  beforeAll(async () => {
    lab = await startLab({ id: "tlife", hosts: [{ name: "h1" }, { name: "up" }] });
    h1 = lab.host("h1");
    upstream = lab.host("up");
    test = await createTestStack(ROOT, "lifecycle", labHostConfig(h1));
    before = await snapshotHost(h1);
  });

  afterAll(async () => {
    // A failed step must not leave a stack behind on the lab host: tear down regardless.
    await test?.stack.destroy().catch(() => undefined);
    await test?.dispose();
    await lab?.teardown();
  });

  it("previews eleven creations and touches nothing", async () => {
    const preview = await test.stack.preview();
    expect(preview.changeSummary).toEqual({ create: 12 }); // eleven resources and the stack
    expect(await snapshotHost(h1)).toEqual(before);
  });

  it("builds the article's network, which the host shows out of band", async () => {
    const up = await test.stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges).toEqual({ create: 12 });

    const netns = (await h1.exec(["ip", "-json", "netns", "list"])).stdout;
    expect(
      JSON.parse(netns)
        .map((n: { name: string }) => n.name)
        .sort(),
    ).toEqual(["ns-blue", "ns-green"]);
    const br = JSON.parse(
      (await h1.exec(["ip", "-json", "-d", "addr", "show", "dev", "br0"])).stdout,
    )[0];
    expect(br.linkinfo.info_kind).toBe("bridge");
    expect(br.flags).toContain("UP");
    expect(br.addr_info.map((a: { local: string }) => a.local)).toContain("10.0.0.254");
    const port = JSON.parse(
      (await h1.exec(["ip", "-json", "link", "show", "dev", "veth-blue-br"])).stdout,
    )[0];
    expect(port.master).toBe("br0");
    const route = JSON.parse(
      (await ns("ns-blue", ["ip", "-json", "route", "show", "default"])).stdout,
    )[0];
    expect(route.gateway).toBe("10.0.0.254");
    expect((await h1.exec(["iptables", "-t", "nat", "-S", "POSTROUTING"])).stdout).toMatch(
      /-A POSTROUTING -s 10\.0\.0\.0\/24 -o eth0 -m comment --comment "?linuxnet:nat-[0-9a-f]{8}:fwd"? -j MASQUERADE/,
    );
    expect((await h1.exec(["cat", "/proc/sys/net/ipv4/ip_forward"])).stdout.trim()).toBe("1");
    expect(await uplinkQdisc()).toMatchObject({
      kind: "tbf",
      handle: "4c54:",
      options: { rate: 12_500_000 }, // 100mbit in bytes per second
    });

    // Every resource reports the key the host presented: the one to pin.
    const resources = (await test.stack.exportStack()).deployment.resources as {
      type: string;
      outputs?: { hostKeyFingerprint?: string };
    }[];
    const ours = resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/linuxnet:"));
    expect(ours).toHaveLength(11);
    for (const r of ours) expect(r.outputs?.hostKeyFingerprint).toBe(h1.hostKeyFingerprint);

    expect(await ping("ns-blue", "10.0.0.2")).toBe(0); // blue -> green over the bridge
    expect(await ping("ns-blue", upstream.address)).toBe(0); // blue -> upstream through NAT

    // The Sysctl in ns-blue, and the host's own value untouched.
    expect(
      (await ns("ns-blue", ["cat", "/proc/sys/net/ipv4/conf/all/rp_filter"])).stdout.trim(),
    ).toBe("2");
    // The port forward: a service in ns-green reached on h1's address from upstream, and from h1 itself.
    expect((await h1.exec(["iptables", "-t", "nat", "-S", "PREROUTING"])).stdout).toMatch(
      /-A PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8080 -m comment --comment "?linuxnet:pf-[0-9a-f]{8}:fwd"? -j DNAT --to-destination 10\.0\.0\.2:80/,
    );
    const server = await startService();
    try {
      expect(await exchange(upstream, h1.address, "hello from upstream")).toBe(
        `ns-green got "hello from upstream" from ${upstream.address}`,
      );
      expect(await exchange(h1, h1.address, "hello from h1")).toBe(
        `ns-green got "hello from h1" from ${h1.address}`,
      );
    } finally {
      await h1.exec(["kill", server]);
    }
  });

  it("changes nothing on a second up", async () => {
    await test.stack.preview({ expectNoChanges: true });
    const up = await test.stack.up();
    expect(up.summary.resourceChanges).toEqual({ same: 12 });
  });

  it("changes nothing on refresh", async () => {
    const refresh = await test.stack.refresh();
    expect(refresh.summary.resourceChanges).toEqual({ same: 12 });
    await test.stack.preview({ expectNoChanges: true });
  });

  it("adds a bridge address in place", async () => {
    await test.stack.setConfig("bridgeExtraAddresses[0]", { value: "10.9.0.1/24" }, true);
    const events: EngineEvent[] = [];
    const up = await test.stack.up({ onEvent: (e) => events.push(e) });
    expect(changed(operations(events))).toEqual({ br0: ["update"] });
    expect(up.summary.resourceChanges).toEqual({ update: 1, same: 11 });
    const addrs = (await h1.exec(["ip", "-json", "addr", "show", "dev", "br0"])).stdout;
    expect(addrs).toContain('"local":"10.9.0.1"');
    expect(await ping("ns-blue", "10.0.0.2")).toBe(0);
  });

  it("changes a kernel setting in place", async () => {
    await test.stack.setConfig("blueRpFilter", { value: "1" });
    const events: EngineEvent[] = [];
    const up = await test.stack.up({ onEvent: (e) => events.push(e) });
    expect(changed(operations(events))).toEqual({ "blue-rp-filter": ["update"] });
    expect(up.summary.resourceChanges).toEqual({ update: 1, same: 11 });
    expect(
      (await ns("ns-blue", ["cat", "/proc/sys/net/ipv4/conf/all/rp_filter"])).stdout.trim(),
    ).toBe("1");
    await test.stack.preview({ expectNoChanges: true });
  });

  it("changes the uplink's rate in place: the same qdisc, updated", async () => {
    await test.stack.setConfig("blueUplinkRate", { value: "50mbit" });
    const events: EngineEvent[] = [];
    const up = await test.stack.up({ onEvent: (e) => events.push(e) });
    expect(changed(operations(events))).toEqual({ "blue-uplink": ["update"] });
    expect(up.summary.resourceChanges).toEqual({ update: 1, same: 11 });
    expect(up.outputs.blueUplinkRate?.value).toBe("50mbit");
    expect(await uplinkQdisc()).toMatchObject({
      kind: "tbf",
      handle: "4c54:",
      options: { rate: 6_250_000 },
    });
    await test.stack.preview({ expectNoChanges: true });
  });

  it("renames a namespace by replacing it and what lives in it", async () => {
    await test.stack.setConfig("blueNamespace", { value: "ns-azure" });
    const events: EngineEvent[] = [];
    await test.stack.up({ onEvent: (e) => events.push(e) });
    const ops = changed(operations(events));
    // A new name: the namespace is created before the old one goes. The veth and the route keep
    // their names in the new namespace, so they go first (delete-before-replace).
    expect(ops["ns-blue"]).toEqual(["create-replacement", "replace", "delete-replaced"]);
    expect(ops["veth-blue"]).toEqual(["delete-replaced", "replace", "create-replacement"]);
    expect(ops["blue-default"]).toEqual(["delete-replaced", "replace", "create-replacement"]);
    // The setting of ns-blue moves with it: made in ns-azure, then put back in ns-blue before it goes.
    expect(ops["blue-rp-filter"]).toEqual(["create-replacement", "replace", "delete-replaced"]);
    // The uplink's shaping is on the veth in that namespace: it goes and comes back with it.
    expect(ops["blue-uplink"]).toEqual(["delete-replaced", "replace", "create-replacement"]);
    expect(Object.keys(ops).sort()).toEqual([
      "blue-default",
      "blue-rp-filter",
      "blue-uplink",
      "ns-blue",
      "veth-blue",
    ]);
    expect(
      (await ns("ns-azure", ["cat", "/proc/sys/net/ipv4/conf/all/rp_filter"])).stdout.trim(),
    ).toBe("1");
    expect(await uplinkQdisc("ns-azure")).toMatchObject({
      kind: "tbf",
      options: { rate: 6_250_000 },
    });

    const netns = JSON.parse((await h1.exec(["ip", "-json", "netns", "list"])).stdout);
    expect(netns.map((n: { name: string }) => n.name).sort()).toEqual(["ns-azure", "ns-green"]);
    expect(await ping("ns-azure", "10.0.0.2")).toBe(0);
    expect(await ping("ns-azure", upstream.address)).toBe(0);
  });

  it("shows drift on refresh and repairs it on up", async () => {
    await h1.exec(["ip", "link", "del", "br0"]);
    await h1.exec(["iptables", "-w", "-t", "nat", "-F", "POSTROUTING"]);
    await h1.exec(["ip", "netns", "del", "ns-green"]);
    expect(await quickPing("ns-azure", "10.0.0.2")).not.toBe(0);

    const refresh = await test.stack.refresh();
    // Gone objects leave state; the surviving veth shows its lost bridge port as an update, and the
    // port forward its lost hairpin rule (POSTROUTING was flushed).
    expect(refresh.summary.resourceChanges).toEqual({ delete: 5, update: 2, same: 5 });
    const state = (await test.stack.exportStack()).deployment.resources as {
      urn: string;
      outputs?: { b?: { bridge?: string } };
    }[];
    const left = state.map((r) => r.urn.split("::").pop()!);
    for (const gone of ["br0", "egress", "ns-green", "veth-green", "green-default"]) {
      expect(left, gone).not.toContain(gone);
    }
    const vethBlue = state.find((r) => r.urn.endsWith("::veth-blue"));
    expect(vethBlue?.outputs?.b?.bridge).toBeUndefined();

    const up = await test.stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges?.create).toBe(5);
    expect((await h1.exec(["iptables", "-t", "nat", "-S", "POSTROUTING"])).stdout).toMatch(
      /--ctstate DNAT -m comment --comment "?linuxnet:pf-[0-9a-f]{8}:fwd"? -j MASQUERADE/,
    );
    await test.stack.preview({ expectNoChanges: true });
    expect(await ping("ns-azure", "10.0.0.2")).toBe(0);
    expect(await ping("ns-azure", upstream.address)).toBe(0);
  });

  it("keeps keys out of state, the stack export and error messages", async () => {
    const key = h1.privateKey.trim();
    // The key's body lines, any one of which would leak it.
    const keyLines = key.split("\n").filter((l) => !l.startsWith("-----"));
    // The CLI as a user runs it: the Automation API's exportStack shows secrets on purpose.
    const exported = test.cli(["stack", "export"]);
    const state = fs.readFileSync(test.stateFile(), "utf8");
    for (const text of [exported, state]) {
      expect(text).toContain("ns-azure"); // the right document, not an empty one
      for (const line of keyLines) expect(text).not.toContain(line);
      expect(text).not.toContain(TEST_PASSPHRASE);
    }
    expect(exported).toContain("4dabf18193072939515e22adb298388d"); // secrets are there, encrypted
  });

  it("destroys everything and leaves the host exactly as before, twice", async () => {
    const destroy = await test.stack.destroy();
    expect(destroy.summary.result).toBe("succeeded");
    expect(destroy.summary.resourceChanges).toEqual({ delete: 12 });
    expect(await snapshotHost(h1)).toEqual(before);

    const again = await test.stack.destroy();
    expect(again.summary.result).toBe("succeeded");
    expect(again.summary.resourceChanges ?? {}).toEqual({});
  });
});
