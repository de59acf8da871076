/**
 * The doctor against real lab hosts. Lab host h1 gets the lab stack's network,
 * built out of band with the kernel's own commands (so the doctor is shown to
 * read hosts this package did not build); lab host "up", on the same fabric,
 * stands in for the internet. Then one fault at a time: the doctor must name
 * that fault first, give its fix, and the fix applied must make the path work.
 */

import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait";
import { type Lab, type LabHost, startLab } from "../../lab/labhost";
import { type Host, closeAllSessions, hostFor, transportStats } from "../../provider/transport";
import { resolveConnection } from "../../provider/transport/connection";
import { liveReader } from "../../provider/host/reader";
import {
  type DoctorReport,
  type DoctorRequest,
  CHECK_ORDER,
  diagnose,
  formatReport,
} from "../../provider/doctor";
import { main } from "../../provider/cli/linuxnet";
import {
  type ConnectivityInputs,
  type ConnectivityOutputs,
  connectivityKind,
} from "../../provider/resources/connectivity";

let lab: Lab;
let h1: LabHost;
let up: LabHost;
let host: Host;

/** Runs argv inside h1; throws with the kernel's words unless it exits 0. */
async function sh(...commands: string[][]): Promise<void> {
  for (const argv of commands) {
    const r = await h1.exec(argv);
    if (r.exitCode !== 0) {
      throw new Error(`${argv.join(" ")}: exit ${r.exitCode}: ${r.stderr.trim()}`);
    }
  }
}

/** Runs argv inside h1, whatever happens (teardown of things that may be gone). */
async function shAnyway(...commands: string[][]): Promise<void> {
  for (const argv of commands) await h1.exec(argv);
}

const ns = (name: string, ...argv: string[]) => ["ip", "-n", name, ...argv];

/**
 * The lab stack's network (stack/lab.ts), by hand: ns-blue 10.0.0.1 and
 * ns-green 10.0.0.2 on br0 10.0.0.254, default routes through it,
 * forwarding on, MASQUERADE out of eth0, and FORWARD -i br0 -o br0 ACCEPT.
 */
async function buildHealthy(): Promise<void> {
  await sh(
    ["ip", "netns", "add", "ns-blue"],
    ["ip", "netns", "add", "ns-green"],
    ["ip", "link", "add", "br0", "type", "bridge"],
    ["ip", "addr", "add", "10.0.0.254/24", "dev", "br0"],
    ["ip", "link", "set", "br0", "up"],
  );
  for (const [color, address] of [
    ["blue", "10.0.0.1/24"],
    ["green", "10.0.0.2/24"],
  ] as const) {
    await sh(
      [
        "ip",
        "link",
        "add",
        `veth-${color}`,
        "netns",
        `ns-${color}`,
        "type",
        "veth",
        "peer",
        "name",
        `veth-${color}-br`,
      ],
      ["ip", "link", "set", `veth-${color}-br`, "master", "br0", "up"],
      ns(`ns-${color}`, "addr", "add", address, "dev", `veth-${color}`),
      ns(`ns-${color}`, "link", "set", `veth-${color}`, "up"),
      ns(`ns-${color}`, "link", "set", "lo", "up"),
      ns(`ns-${color}`, "route", "add", "default", "via", "10.0.0.254"),
    );
  }
  await sh(
    ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
    [
      "iptables",
      "-w",
      "-t",
      "nat",
      "-A",
      "POSTROUTING",
      "-s",
      "10.0.0.0/24",
      "-o",
      "eth0",
      "-j",
      "MASQUERADE",
    ],
    ["iptables", "-w", "-A", "FORWARD", "-i", "br0", "-o", "br0", "-j", "ACCEPT"],
  );
}

/** Back to nothing: host-side links first (deleting a namespace frees its links only later). */
async function tearDownTopology(): Promise<void> {
  await shAnyway(
    ["ip", "link", "del", "veth-blue-br"],
    ["ip", "link", "del", "veth-green-br"],
    ["ip", "link", "del", "veth-red-br"],
    ["ip", "link", "del", "veth-blue2-h"],
    ["ip", "link", "del", "br0"],
    ["ip", "netns", "del", "ns-blue"],
    ["ip", "netns", "del", "ns-green"],
    ["ip", "netns", "del", "ns-red"],
    ["iptables", "-w", "-F", "FORWARD"],
    ["iptables", "-w", "-P", "FORWARD", "ACCEPT"],
    ["iptables", "-w", "-t", "nat", "-F", "POSTROUTING"],
    ["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"],
  );
}

async function resetHealthy(): Promise<void> {
  await tearDownTopology();
  await buildHealthy();
}

/**
 * A bounded ping from ns-blue, out of band: the ground truth. Where the path should
 * work it may resend for 3 s (a loaded machine loses a packet now and then); where it
 * should be broken one packet and 1 s say so.
 */
async function pingFromBlue(
  dst: string,
  expect: "works" | "broken",
  ...extra: string[]
): Promise<boolean> {
  const wait = expect === "works" ? ["-w", "3"] : ["-W", "1"];
  const r = await h1.exec([
    "ip",
    "netns",
    "exec",
    "ns-blue",
    "ping",
    "-c",
    "1",
    ...wait,
    ...extra,
    dst,
  ]);
  return r.exitCode === 0;
}

function explain(report: DoctorReport): string {
  return `\n${formatReport(report)}`;
}

/** Every check before the first failure passed; every one after it was skipped. */
function expectStopsAtFirstFailure(report: DoctorReport): void {
  const at = report.checks.findIndex((c) => c.status === "fail");
  expect(at, explain(report)).toBeGreaterThanOrEqual(0);
  for (const c of report.checks.slice(0, at))
    expect(c.status, `${c.id}${explain(report)}`).not.toBe("fail");
  for (const c of report.checks.slice(at + 1))
    expect(c.status, `${c.id}${explain(report)}`).toBe("skip");
}

beforeAll(async () => {
  lab = await startLab({ id: "tdoc", hosts: [{ name: "h1" }, { name: "up" }] });
  h1 = lab.host("h1");
  up = lab.host("up");
  const { connection, failures } = resolveConnection({
    host: h1.address,
    privateKey: h1.privateKey,
    hostKey: h1.hostKey,
  });
  if (!connection) throw new Error(failures.map((f) => f.reason).join("; "));
  host = hostFor(connection);
  // The FORWARD DROP row needs bridged traffic to pass iptables, as Docker hosts have it.
  const brnf = await h1.exec(["cat", "/proc/sys/net/bridge/bridge-nf-call-iptables"]);
  if (brnf.stdout.trim() !== "1") {
    throw new Error(
      `br_netfilter is not active in the lab host (bridge-nf-call-iptables: ${brnf.stdout.trim() || brnf.stderr.trim()}); load it with "modprobe br_netfilter"`,
    );
  }
  await buildHealthy();
});

afterAll(async () => {
  await closeAllSessions();
  await lab?.teardown();
});

describe("diagnose on a healthy topology", () => {
  const cases: [string, () => DoctorRequest, string[]][] = [
    [
      "ns-blue to ns-green across the bridge",
      () => ({ from: { namespace: "ns-blue" }, to: { namespace: "ns-green" } }),
      ["iptables.forward", "rp_filter", "iptables.input", "route.reply"],
    ],
    [
      "ns-green to ns-blue, by address only",
      () => ({ from: { namespace: "ns-green", address: "10.0.0.2" }, to: { address: "10.0.0.1" } }),
      ["route.reply"],
    ],
    [
      "ns-blue out to the upstream host, masqueraded",
      () => ({ from: { namespace: "ns-blue", address: "10.0.0.1" }, to: { address: up.address } }),
      ["forwarding", "nat.masquerade", "rp_filter"],
    ],
    [
      "ns-blue to the upstream host's sshd over TCP",
      () => ({
        from: { namespace: "ns-blue" },
        to: { address: up.address },
        port: 22,
        protocol: "tcp",
      }),
      ["nat.masquerade"],
    ],
    [
      "the host itself to ns-green",
      () => ({ from: {}, to: { namespace: "ns-green" } }),
      ["bridge.up", "nexthop.link"],
    ],
  ];

  it.each(cases)("passes every check, %s", async (_label, request, mustHave) => {
    const report = await diagnose(host, request());
    const notOk = report.checks.filter((c) => c.status !== "ok");
    expect(
      notOk.map((c) => `${c.id}: ${c.evidence}`),
      explain(report),
    ).toEqual([]);
    expect(report.healthy).toBe(true);
    expect(report.firstFailure).toBeUndefined();
    const ids = report.checks.map((c) => c.id);
    for (const id of [
      ...mustHave,
      "source.interface",
      "route",
      "mtu",
      "address.conflict",
      "probe",
    ]) {
      expect(ids, explain(report)).toContain(id);
    }
    // The checks follow the documented order (a routed path repeats some for its second hop).
    expect(ids.every((id) => (CHECK_ORDER as readonly string[]).includes(id))).toBe(true);
  });

  it("reads the host with one command: a healthy path runs five in all", async () => {
    const before = transportStats.commands;
    const report = await diagnose(host, {
      from: { namespace: "ns-blue" },
      to: { namespace: "ns-green" },
    });
    expect(report.healthy, explain(report)).toBe(true);
    // The host snapshot, `ip route get` at the source and back from the destination, two pings.
    expect(transportStats.commands - before).toBe(5);
  });

  it("says the path leaves the host by eth0, masqueraded", async () => {
    const report = await diagnose(host, {
      from: { namespace: "ns-blue" },
      to: { address: up.address },
    });
    expect(report.destination.onHost).toBe(false);
    expect(report.path.at(-1)).toMatchObject({
      namespace: undefined,
      out: "eth0",
      note: "leaves the host",
    });
    expect(report.checks.find((c) => c.id === "nat.masquerade")?.evidence).toMatch(
      /MASQUERADE by -A POSTROUTING -s 10.0.0.0\/24 -o eth0/,
    );
  });

  it("reports a closed TCP port as a failed probe after every other check passed", async () => {
    const report = await diagnose(host, {
      from: { namespace: "ns-blue" },
      to: { address: up.address },
      port: 23,
    });
    expect(report.firstFailure?.id, explain(report)).toBe("probe");
    expect(report.firstFailure?.evidence).toMatch(/refused|reset/i);
    expect(report.checks.filter((c) => c.id !== "probe").every((c) => c.status === "ok")).toBe(
      true,
    );
  });
});

/** One fault, the check that must name it, and how to see that it truly breaks the path. */
interface Fault {
  readonly label: string;
  readonly fault: () => string[][];
  readonly to: () => DoctorRequest["to"];
  readonly expectId: string;
  /** A ping from ns-blue that the fault breaks (default: a plain ping of the destination). */
  readonly probe?: () => string[];
}

const GREEN = () => ({ namespace: "ns-green", address: "10.0.0.2" });
const UP = () => ({ address: up.address });

const faults: Fault[] = [
  {
    label: "veth end missing",
    fault: () => [ns("ns-blue", "link", "del", "veth-blue")],
    to: GREEN,
    expectId: "source.interface",
  },
  {
    label: "source interface down",
    fault: () => [ns("ns-blue", "link", "set", "veth-blue", "down")],
    to: GREEN,
    expectId: "source.interface",
  },
  {
    label: "veth peer down",
    fault: () => [["ip", "link", "set", "veth-blue-br", "down"]],
    to: GREEN,
    expectId: "veth.peer.up",
  },
  {
    label: "bridge down",
    fault: () => [["ip", "link", "set", "br0", "down"]],
    to: GREEN,
    expectId: "bridge.up",
  },
  {
    label: "port not attached to the bridge",
    fault: () => [["ip", "link", "set", "veth-blue-br", "nomaster"]],
    to: GREEN,
    expectId: "bridge.port",
  },
  {
    label: "destination's interface down",
    fault: () => [ns("ns-green", "link", "set", "veth-green", "down")],
    to: GREEN,
    expectId: "nexthop.link",
  },
  {
    label: "no route out of the namespace",
    fault: () => [ns("ns-blue", "route", "del", "default")],
    to: UP,
    expectId: "route",
  },
  {
    label: "wrong gateway",
    fault: () => [ns("ns-blue", "route", "replace", "default", "via", "10.0.0.253")],
    to: UP,
    expectId: "route.gateway",
  },
  {
    label: "forwarding off on the host",
    fault: () => [["sysctl", "-qw", "net.ipv4.ip_forward=0"]],
    to: UP,
    expectId: "forwarding",
  },
  {
    label: "FORWARD policy DROP with br_netfilter, no bridge ACCEPT",
    fault: () => [
      ["iptables", "-w", "-D", "FORWARD", "-i", "br0", "-o", "br0", "-j", "ACCEPT"],
      ["iptables", "-w", "-P", "FORWARD", "DROP"],
    ],
    to: GREEN,
    expectId: "iptables.forward",
  },
  {
    label: "FORWARD policy DROP for routed egress",
    fault: () => [["iptables", "-w", "-P", "FORWARD", "DROP"]],
    to: UP,
    expectId: "iptables.forward",
  },
  {
    label: "no MASQUERADE for egress",
    fault: () => [
      [
        "iptables",
        "-w",
        "-t",
        "nat",
        "-D",
        "POSTROUTING",
        "-s",
        "10.0.0.0/24",
        "-o",
        "eth0",
        "-j",
        "MASQUERADE",
      ],
    ],
    to: UP,
    expectId: "nat.masquerade",
  },
  {
    // Asymmetric: the host's best route back to 10.0.0.1 is a second veth into ns-blue,
    // which works (replies go that way) until strict rp_filter on br0 drops the requests.
    label: "strict rp_filter dropping asymmetric traffic",
    fault: () => [
      [
        "ip",
        "link",
        "add",
        "veth-blue2",
        "netns",
        "ns-blue",
        "type",
        "veth",
        "peer",
        "name",
        "veth-blue2-h",
      ],
      ns("ns-blue", "link", "set", "veth-blue2", "up"),
      ["ip", "link", "set", "veth-blue2-h", "up"],
      ["ip", "route", "add", "10.0.0.1/32", "dev", "veth-blue2-h"],
      ["sysctl", "-qw", "net.ipv4.conf.br0.rp_filter=1"],
    ],
    to: UP,
    expectId: "rp_filter",
  },
  {
    // A frame bigger than the smaller end's MTU is dropped without an ICMP error:
    // small pings pass, a 1400-byte one with DF set does not.
    label: "MTU mismatch between veth ends",
    fault: () => [["ip", "link", "set", "veth-blue-br", "mtu", "1300"]],
    to: GREEN,
    expectId: "mtu",
    probe: () => ["-M", "do", "-s", "1400"],
  },
  {
    // ns-red claims the gateway's address and announces it (a gratuitous ARP when its
    // MAC changes, with arp_notify on): ns-blue then sends its egress traffic to ns-red,
    // which does not forward.
    label: "duplicate address on the bridge",
    fault: () => [
      ["ip", "netns", "exec", "ns-blue", "ping", "-c", "1", "-W", "1", up.address],
      ["ip", "netns", "add", "ns-red"],
      [
        "ip",
        "link",
        "add",
        "veth-red",
        "netns",
        "ns-red",
        "type",
        "veth",
        "peer",
        "name",
        "veth-red-br",
      ],
      ["ip", "link", "set", "veth-red-br", "master", "br0", "up"],
      ns("ns-red", "addr", "add", "10.0.0.254/24", "dev", "veth-red"),
      ["ip", "netns", "exec", "ns-red", "sysctl", "-qw", "net.ipv4.conf.veth-red.arp_notify=1"],
      ns("ns-red", "link", "set", "veth-red", "up"),
      ["sleep", "0.2"],
      ns("ns-red", "link", "set", "veth-red", "address", "02:00:00:00:0d:01"),
      ["sleep", "0.1"],
    ],
    to: UP,
    expectId: "address.conflict",
  },
  {
    label: "INPUT policy DROP at the destination",
    fault: () => [["ip", "netns", "exec", "ns-green", "iptables", "-w", "-P", "INPUT", "DROP"]],
    to: GREEN,
    expectId: "iptables.input",
  },
];

describe("diagnose on one fault at a time", () => {
  it.each(faults.map((f) => [f.label, f] as const))(
    "names the fault first, fixes it: %s",
    async (_label, f) => {
      await resetHealthy();
      const to = f.to();
      const dst = to.address!;
      const extra = f.probe?.() ?? [];
      expect(await pingFromBlue(dst, "works", ...extra), "the healthy topology works").toBe(true);

      await sh(...f.fault());
      expect(await pingFromBlue(dst, "broken", ...extra), "the fault breaks the path").toBe(false);

      const request: DoctorRequest = { from: { namespace: "ns-blue", address: "10.0.0.1" }, to };
      const broken = await diagnose(host, request);
      expect(broken.healthy, explain(broken)).toBe(false);
      expect(broken.firstFailure?.id, explain(broken)).toBe(f.expectId);
      expect(broken.firstFailure?.evidence, explain(broken)).not.toBe("");
      expect(broken.firstFailure?.fix, explain(broken)).toBeTruthy();
      expectStopsAtFirstFailure(broken);

      // The fix exactly as printed, through a shell, as a person would paste it.
      const applied = await h1.exec(["sh", "-c", broken.firstFailure!.fix!]);
      expect(applied.exitCode, `${broken.firstFailure!.fix}: ${applied.stderr}`).toBe(0);
      // The kernel settles after a fix (a link's carrier, a bridge port, ARP's retries): the
      // path must work within seconds, and then the doctor must find it healthy.
      await waitFor(() => pingFromBlue(dst, "works", ...extra), {
        timeoutMs: 15_000,
        what: `the path to ${dst} to work after the fix`,
      });

      const fixed = await diagnose(host, request);
      expect(fixed.healthy, explain(fixed)).toBe(true);
      expect(fixed.checks.find((c) => c.id === "probe")?.status, explain(fixed)).toBe("ok");
      expect(await pingFromBlue(dst, "works", ...extra), "the fix makes the path work").toBe(true);
    },
  );
});

describe("ConnectivityCheck against the lab host", () => {
  const inputs = (): ConnectivityInputs => ({
    connection: { host: h1.address, privateKey: h1.privateKey, hostKey: h1.hostKey },
    resourceName: "blue-to-green",
    from: { namespace: "ns-blue" },
    to: { namespace: "ns-green" },
  });

  it("creates on a working path, reports a broken one as drift, and fails up until it is fixed", async () => {
    await resetHealthy();
    const id = connectivityKind.idOf(inputs());
    const outs = await connectivityKind.create(host, inputs(), id);
    expect(outs.healthy).toBe(true);
    expect(outs.summary).toMatch(/healthy/);

    await sh(["ip", "link", "set", "br0", "down"]);
    const refreshed = (await connectivityKind.read(
      liveReader(host),
      id,
      outs,
    )) as ConnectivityOutputs;
    expect(refreshed.healthy).toBe(false);
    expect(refreshed.firstFailure).toBe("bridge.up");
    expect(refreshed.summary).toMatch(/ip link set dev br0 up/);
    expect(connectivityKind.diff(refreshed, inputs()).changes).toBe(true);
    await expect(connectivityKind.update(host, id, refreshed, inputs())).rejects.toThrow(
      /✗ bridge\.up/,
    );
    await expect(connectivityKind.create(host, inputs(), id)).rejects.toThrow(
      /BROKEN at bridge\.up/,
    );

    await sh(["ip", "link", "set", "br0", "up"]);
    const again = await connectivityKind.update(host, id, refreshed, inputs());
    expect(again.healthy).toBe(true);
    expect(connectivityKind.diff(again, inputs()).changes).toBe(false);
    await connectivityKind.delete(host, id, again);
  });
});

describe("the linuxnet command", () => {
  let dir: string;
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
  };
  const conn = () => ["--host", h1.address, "--key", h1.privateKeyPath, "--host-key", h1.hostKey];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "linuxnet-doctor-"));
    await resetHealthy();
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("prints a healthy path with ✓ marks and exits 0, never the key", async () => {
    const c = io();
    const code = await main(["doctor", ...conn(), "--from", "ns-blue", "--to", "ns-green"], c.io);
    const text = c.out.join("\n") + c.err.join("\n");
    expect(code, text).toBe(0);
    expect(text).toMatch(/✓ probe/);
    expect(text).toMatch(/HEALTHY/);
    expect(text).not.toContain(h1.privateKey.trim().split("\n")[1]!);
  });

  it("prints the first failure with its evidence and fix and exits 1", async () => {
    await sh(["ip", "link", "set", "veth-green-br", "down"]);
    try {
      const c = io();
      const code = await main(
        ["doctor", ...conn(), "--from", "ns-blue/10.0.0.1", "--to", "ns-green/10.0.0.2"],
        c.io,
      );
      const text = c.out.join("\n");
      expect(code, text).toBe(1);
      expect(text).toMatch(/✗ nexthop\.link/);
      expect(text).toMatch(/state DOWN/);
      expect(text).toMatch(/fix: ip link set dev veth-green-br up/);
      const j = io();
      expect(
        await main(["doctor", ...conn(), "--from", "ns-blue", "--to", "10.0.0.2", "--json"], j.io),
      ).toBe(1);
      const report = JSON.parse(j.out.join("")) as DoctorReport;
      expect(report.firstFailure?.id).toBe("nexthop.link");
      expect(JSON.stringify(report)).not.toContain("PRIVATE KEY");
    } finally {
      await sh(["ip", "link", "set", "veth-green-br", "up"]);
    }
  });

  it("draws the live host as Mermaid and as SVG", async () => {
    const c = io();
    expect(await main(["graph", ...conn()], c.io)).toBe(0);
    const mermaid = c.out.join("\n");
    expect(mermaid).toMatch(/^flowchart LR/);
    for (const word of [
      "ns-blue",
      "ns-green",
      "veth-blue<br/>10.0.0.1/24",
      "br0<br/>10.0.0.254/24",
      "default via 10.0.0.254",
      "MASQUERADE 10.0.0.0/24 out eth0",
    ]) {
      expect(mermaid).toContain(word);
    }
    const file = path.join(dir, "lab.svg");
    expect(await main(["graph", ...conn(), "--svg", file], io().io)).toBe(0);
    const svg = await fs.readFile(file, "utf8");
    expect(svg).toMatch(/^<\?xml/);
    expect(svg).toContain("<svg");
    expect(svg).toContain(">veth-green-br</text>");
  });

  it("refuses a malformed endpoint with usage and exit 2", async () => {
    const c = io();
    expect(await main(["doctor", ...conn(), "--from", "ns blue", "--to", "ns-green"], c.io)).toBe(
      2,
    );
    expect(c.err.join("\n")).toMatch(/usage:/);
  });
});
