/**
 * ConnectivityCheck across two lab hosts: `to.connection` names the host that
 * holds the destination. Lab host h1 has a client namespace behind its own
 * veth; lab host "far" a server namespace behind its own; each routes the
 * other's network to the other over the lab fabric. The check, driven as the
 * engine drives it (check, create, read, diff, update), passes on the healthy
 * path, and a fault on "far" fails it naming that host's check first. Then
 * one L2 segment over VXLAN between the two: diagnoseAcross follows it into
 * far's VXLAN device and bridge, and names a far bridge port down first.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, type LabHost, startLab } from "../../lab/labhost";
import { type Host, closeAllSessions, hostFor, transportStats } from "../../provider/transport";
import { resolveConnection } from "../../provider/transport/connection";
import { type DoctorReport, diagnoseAcross, formatReport } from "../../provider/doctor";
import { requireRoot } from "../support/lab";
import { Driver, type LabContext } from "./support";

let lab: Lab;
let h1: LabHost;
let far: LabHost;
let driver: Driver;

const CLIENT = "ns-xac";
const SERVER = "ns-xaz";

async function on(h: LabHost, ...commands: string[][]): Promise<void> {
  for (const argv of commands) {
    const r = await h.exec(argv);
    if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: exit ${r.exitCode}: ${r.stderr}`);
  }
}

/** A namespace `ns` behind the host's veth `hostEnd` (`.254`), the namespace at `.1`. */
function behind(ns: string, hostEnd: string, nsEnd: string, net: string): string[][] {
  return [
    ["ip", "netns", "add", ns],
    ["ip", "link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd, "netns", ns],
    ["ip", "addr", "add", `${net}.254/24`, "dev", hostEnd],
    ["ip", "link", "set", hostEnd, "up"],
    ["ip", "-n", ns, "addr", "add", `${net}.1/24`, "dev", nsEnd],
    ["ip", "-n", ns, "link", "set", nsEnd, "up"],
    ["ip", "-n", ns, "link", "set", "lo", "up"],
    ["ip", "-n", ns, "route", "add", "default", "via", `${net}.254`],
    ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
  ];
}

const farConnection = () => ({
  host: far.address,
  privateKey: far.privateKey,
  hostKey: far.hostKey,
});

const args = () => ({
  from: { namespace: CLIENT, address: "10.71.0.1" },
  to: { address: "10.72.0.1", connection: farConnection() },
});

beforeAll(async () => {
  requireRoot("the host tier");
  lab = await startLab({ id: "xa1", hosts: [{ name: "h1" }, { name: "far" }] });
  h1 = lab.host("h1");
  far = lab.host("far");
  const ctx: LabContext = {
    lab,
    h: h1,
    connection: { host: h1.address, privateKey: h1.privateKey, hostKey: h1.hostKey },
    connectionsAtStart: transportStats.connections,
  };
  driver = new Driver("ConnectivityCheck", ctx);
  await on(h1, ...behind(CLIENT, "h-xac", "xac-h", "10.71.0"), [
    "ip",
    "route",
    "add",
    "10.72.0.0/24",
    "via",
    far.address,
  ]);
  await on(far, ...behind(SERVER, "f-xaz", "xaz-f", "10.72.0"), [
    "ip",
    "route",
    "add",
    "10.71.0.0/24",
    "via",
    h1.address,
  ]);
});

afterAll(async () => {
  await closeAllSessions();
  await lab?.teardown();
});

describe("ConnectivityCheck with to.connection", () => {
  it("checks the path into the other host, and reports a fault there by that host's check", async () => {
    const res = await driver.create(args());
    expect(res.outs.healthy).toBe(true);
    expect(String(res.outs.summary)).toMatch(/10\.72\.0\.1 \(ns-xaz\): healthy/);
    await driver.expectNoDrift(res);

    // A fault on the far host only: its veth to the server namespace goes down.
    await on(far, ["ip", "link", "set", "f-xaz", "down"]);
    let refreshed: typeof res;
    try {
      const props = await driver.read(res);
      expect(props?.healthy).toBe(false);
      refreshed = { ...res, outs: { ...res.outs, ...props } };
      expect(String(props?.summary)).toMatch(/ip link set dev f-xaz up/);
      const update = driver.update(refreshed, args());
      await expect(update).rejects.toThrow(`✗ ${String(props?.firstFailure)}`);
      // Named first, and on the far host.
      await expect(update).rejects.toThrow(
        `BROKEN at ${String(props?.firstFailure)} [${far.address}:host]`,
      );
      await expect(update).rejects.toThrow(`broken on ${h1.address} → ${far.address}`);
    } finally {
      await on(far, ["ip", "link", "set", "f-xaz", "up"]);
    }
    // The refresh recorded it broken: the next up checks again, and passes.
    const again = await driver.update(refreshed, args());
    expect(again.outs.healthy).toBe(true);
    await driver.delete(again);
  });

  it("names the far host's forwarding off first, and passes once it is back", async () => {
    const res = await driver.create(args());
    await on(far, ["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    try {
      const props = await driver.read(res);
      expect(props?.healthy, String(props?.summary)).toBe(false);
      expect(props?.firstFailure).toBe("forwarding");
    } finally {
      await on(far, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    }
    expect((await driver.read(res))?.healthy).toBe(true);
    await driver.delete(res);
  });

  it("checks a path from h1 itself to the other host's own address", async () => {
    const res = await driver.create({ to: { address: far.address, connection: farConnection() } });
    expect(res.outs.healthy).toBe(true);
    expect(String(res.outs.summary)).toMatch(/healthy/);
    await driver.delete(res);
  });

  it("without to.connection, the check on h1 alone cannot see that far routes the replies back", async () => {
    // The difference to.connection makes: h1 alone asks for NAT, as the replies' way back is out of its sight.
    const error = await driver.createFails({ from: args().from, to: { address: "10.72.0.1" } });
    expect(error.message).toMatch(/✗ nat\.masquerade/);
  });
});

/** h1 and far each: bridge br-xa with VXLAN vx-xa (VNI 4242) to the other, and a namespace on it. */
describe("diagnoseAcross through a VXLAN segment", () => {
  let hosts: Host[];
  const hostOf = (h: LabHost) => {
    const { connection } = resolveConnection({
      host: h.address,
      privateKey: h.privateKey,
      hostKey: h.hostKey,
    });
    return hostFor(connection!);
  };
  const segment = (ns: string, hostEnd: string, nsEnd: string, address: string, remote: string) => [
    ["ip", "link", "add", "br-xa", "type", "bridge"],
    ["ip", "link", "set", "br-xa", "up"],
    ["ip", "link", "add", "vx-xa", "type", "vxlan", "id", "4242", "dstport", "4789", "dev", "eth0"],
    ["ip", "link", "set", "vx-xa", "master", "br-xa", "up"],
    ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vx-xa", "dst", remote],
    ["ip", "netns", "add", ns],
    ["ip", "link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd, "netns", ns],
    ["ip", "link", "set", hostEnd, "master", "br-xa", "up"],
    ["ip", "-n", ns, "addr", "add", address, "dev", nsEnd],
    ["ip", "-n", ns, "link", "set", nsEnd, "up"],
    // The namespace's MTU leaves room for VXLAN's 50 bytes on the fabric's 1500, as vx-xa's does.
    ["ip", "link", "set", hostEnd, "mtu", "1450"],
    ["ip", "-n", ns, "link", "set", nsEnd, "mtu", "1450"],
  ];
  const request = {
    from: { namespace: "ns-xav", address: "10.73.0.1" },
    to: { address: "10.73.0.2" },
  };
  const ping = async () =>
    (await h1.exec(["ip", "netns", "exec", "ns-xav", "ping", "-c", "1", "-w", "3", "10.73.0.2"]))
      .exitCode === 0;
  const explain = (r: DoctorReport) => `\n${formatReport(r)}`;

  beforeAll(async () => {
    hosts = [hostOf(h1), hostOf(far)];
    await on(h1, ...segment("ns-xav", "h-xav", "xav-h", "10.73.0.1/24", far.address));
    await on(far, ...segment("ns-xaw", "f-xaw", "xaw-f", "10.73.0.2/24", h1.address));
  });

  it("follows the segment into far, to the namespace on its bridge, with no warning", async () => {
    expect(await ping()).toBe(true);
    const report = await diagnoseAcross(hosts, request);
    expect(
      report.checks.filter((c) => c.status !== "ok").map((c) => `${c.id}: ${c.evidence}`),
      explain(report),
    ).toEqual([]);
    expect(report.host).toBe(`${h1.address} → ${far.address}`);
    expect(report.path.map((p) => p.note)).toContain("arrives through VXLAN");
    expect(report.path.at(-1), explain(report)).toMatchObject({
      host: far.address,
      namespace: "ns-xaw",
      note: "destination",
    });
    expect(report.checks.at(-1)).toMatchObject({ id: "probe", status: "ok" });
  });

  it("names the far bridge's port down first, on far, and its fix works", async () => {
    await on(far, ["ip", "link", "set", "f-xaw", "down"]);
    const broken = await diagnoseAcross(hosts, request);
    expect(broken.firstFailure?.id, explain(broken)).toBe("nexthop.link");
    expect(broken.firstFailure?.where).toBe(`${far.address}:host`);
    expect(broken.firstFailure?.fix).toMatch(/f-xaw up/);
    expect(await ping()).toBe(false);
    const applied = await far.exec(["sh", "-c", broken.firstFailure!.fix!]);
    expect(applied.exitCode, applied.stderr).toBe(0);
    const fixed = await diagnoseAcross(hosts, request);
    expect(fixed.healthy, explain(fixed)).toBe(true);
  });
});
