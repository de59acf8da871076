/**
 * The doctor, deeper: the faults behind a broken path that no route shows.
 * Lab host h1 gets a routed topology built by hand (a client namespace on a
 * bridge in a router namespace, a server namespace behind the router, the
 * router's uplink into the host, MASQUERADE out of the host to lab host
 * "up"). Then one fault at a time: a real ping fails, the doctor names that
 * fault first (by check id), the printed fix makes a second diagnosis
 * healthy and the ping work. The faults: a link down or without its address
 * on the way (named instead of the routing loop that follows), ARP off at
 * either end, arp_ignore and arp_filter, a wrong static neighbour entry,
 * policy rules (blackhole, prohibit by incoming interface, a table whose
 * route is unreachable), and native nftables chains (forward and input
 * policy drop, an output drop, a drop in a jumped-to chain).
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait";
import { type Lab, type LabHost, startLab } from "../../lab/labhost";
import { type Host, closeAllSessions, hostFor } from "../../provider/transport";
import { resolveConnection } from "../../provider/transport/connection";
import {
  type DoctorReport,
  type DoctorRequest,
  CHECK_ORDER,
  diagnose,
  diagnoseAcross,
  formatReport,
} from "../../provider/doctor";
import { main } from "../../provider/cli/linuxnet";

let lab: Lab;
let h1: LabHost;
let up: LabHost;
let host: Host;
let upHost: Host;

async function sh(...commands: string[][]): Promise<void> {
  for (const argv of commands) {
    const r = await h1.exec(argv);
    if (r.exitCode !== 0) {
      throw new Error(`${argv.join(" ")}: exit ${r.exitCode}: ${r.stderr.trim()}`);
    }
  }
}

async function shAnyway(...commands: string[][]): Promise<void> {
  for (const argv of commands) await h1.exec(argv);
}

const ip = (ns: string, ...argv: string[]) => ["ip", "-n", ns, ...argv];
const exec = (ns: string, ...argv: string[]) => ["ip", "netns", "exec", ns, ...argv];
const nft = (ns: string, ...argv: string[]) => exec(ns, "nft", ...argv);

const NAMESPACES = ["ns-dc", "ns-de", "ns-dr", "ns-ds"];

/** A veth pair from namespace a (name x) to namespace b (name y); "" is the host's own. */
function veth(a: string, x: string, b: string, y: string): string[] {
  return [
    "ip",
    ...(a ? ["-n", a] : []),
    "link",
    "add",
    x,
    "type",
    "veth",
    "peer",
    "name",
    y,
    ...(b ? ["netns", b] : []),
  ];
}

/**
 * ns-dc 10.1.0.1 and ns-de 10.1.0.2 on bridge br-c (10.1.0.254) in router
 * ns-dr; ns-ds 10.2.0.1 behind ns-dr's dr-s (10.2.0.254); ns-dr's uplink
 * dr-h 10.9.0.2 to the host's h-dr 10.9.0.1; the host routes both networks
 * back through ns-dr and masquerades 10.1.0.0/24 out of eth0.
 */
async function build(): Promise<void> {
  await sh(...NAMESPACES.map((n) => ["ip", "netns", "add", n]));
  await sh(
    ip("ns-dr", "link", "add", "br-c", "type", "bridge"),
    ip("ns-dr", "addr", "add", "10.1.0.254/24", "dev", "br-c"),
    ip("ns-dr", "link", "set", "br-c", "up"),
    veth("ns-dc", "dc-r", "ns-dr", "dr-c1"),
    veth("ns-de", "de-r", "ns-dr", "dr-c2"),
    ip("ns-dr", "link", "set", "dr-c1", "master", "br-c", "up"),
    ip("ns-dr", "link", "set", "dr-c2", "master", "br-c", "up"),
    ip("ns-dc", "addr", "add", "10.1.0.1/24", "dev", "dc-r"),
    ip("ns-de", "addr", "add", "10.1.0.2/24", "dev", "de-r"),
    veth("ns-dr", "dr-s", "ns-ds", "ds-r"),
    ip("ns-dr", "addr", "add", "10.2.0.254/24", "dev", "dr-s"),
    ip("ns-ds", "addr", "add", "10.2.0.1/24", "dev", "ds-r"),
    veth("", "h-dr", "ns-dr", "dr-h"),
    ip("ns-dr", "addr", "add", "10.9.0.2/30", "dev", "dr-h"),
    ["ip", "addr", "add", "10.9.0.1/30", "dev", "h-dr"],
    ["ip", "link", "set", "h-dr", "up"],
  );
  for (const [n, dev] of [
    ["ns-dc", "dc-r"],
    ["ns-de", "de-r"],
    ["ns-ds", "ds-r"],
    ["ns-dr", "dr-s"],
    ["ns-dr", "dr-h"],
  ] as const) {
    await sh(ip(n, "link", "set", dev, "up"), ip(n, "link", "set", "lo", "up"));
  }
  await sh(
    ip("ns-dc", "route", "add", "default", "via", "10.1.0.254"),
    ip("ns-de", "route", "add", "default", "via", "10.1.0.254"),
    ip("ns-ds", "route", "add", "default", "via", "10.2.0.254"),
    ip("ns-dr", "route", "add", "default", "via", "10.9.0.1"),
    exec("ns-dr", "sysctl", "-qw", "net.ipv4.ip_forward=1"),
    ["ip", "route", "add", "10.1.0.0/24", "via", "10.9.0.2"],
    ["ip", "route", "add", "10.2.0.0/24", "via", "10.9.0.2"],
    ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
    [
      "iptables",
      "-w",
      "-t",
      "nat",
      "-A",
      "POSTROUTING",
      "-s",
      "10.1.0.0/24",
      "-o",
      "eth0",
      "-j",
      "MASQUERADE",
    ],
  );
}

async function tearDown(): Promise<void> {
  await shAnyway(
    ["ip", "link", "del", "h-dr"],
    ...NAMESPACES.map((n) => ["ip", "netns", "del", n]),
    ["ip", "route", "del", "10.1.0.0/24"],
    ["ip", "route", "del", "10.2.0.0/24"],
    [
      "iptables",
      "-w",
      "-t",
      "nat",
      "-D",
      "POSTROUTING",
      "-s",
      "10.1.0.0/24",
      "-o",
      "eth0",
      "-j",
      "MASQUERADE",
    ],
  );
}

async function reset(): Promise<void> {
  await tearDown();
  await build();
}

/** A bounded ping from ns-dc: the ground truth. */
async function ping(dst: string, expect: "works" | "broken"): Promise<boolean> {
  const wait = expect === "works" ? ["-w", "3"] : ["-W", "1"];
  const r = await h1.exec(exec("ns-dc", "ping", "-c", "1", ...wait, dst));
  return r.exitCode === 0;
}

const explain = (report: DoctorReport) => `\n${formatReport(report)}`;

const SERVER = () => ({ namespace: "ns-ds", address: "10.2.0.1" });
const NEIGHBOUR = () => ({ namespace: "ns-de", address: "10.1.0.2" });
const UP = () => ({ address: up.address });

beforeAll(async () => {
  lab = await startLab({ id: "dd1", hosts: [{ name: "h1" }, { name: "up" }] });
  h1 = lab.host("h1");
  up = lab.host("up");
  const { connection, failures } = resolveConnection({
    host: h1.address,
    privateKey: h1.privateKey,
    hostKey: h1.hostKey,
  });
  if (!connection) throw new Error(failures.map((f) => f.reason).join("; "));
  host = hostFor(connection);
  const second = resolveConnection({
    host: up.address,
    privateKey: up.privateKey,
    hostKey: up.hostKey,
  });
  if (!second.connection) throw new Error(second.failures.map((f) => f.reason).join("; "));
  upHost = hostFor(second.connection);
  await build();
});

afterAll(async () => {
  await closeAllSessions();
  await lab?.teardown();
});

describe("healthy paths raise no warning from any check", () => {
  const cases: [string, () => DoctorRequest["to"], string[]][] = [
    ["bridged, ns-dc to ns-de on br-c", NEIGHBOUR, ["neigh.arp", "bridge.port"]],
    ["routed through ns-dr, ns-dc to ns-ds", SERVER, ["neigh.arp", "forwarding", "route.reply"]],
    ["NATed egress, ns-dc to the upstream host", UP, ["neigh.arp", "nat.masquerade"]],
  ];
  it.each(cases)("%s", async (_label, to, mustHave) => {
    const report = await diagnose(host, {
      from: { namespace: "ns-dc", address: "10.1.0.1" },
      to: to(),
    });
    expect(
      report.checks.filter((c) => c.status !== "ok").map((c) => `${c.id}: ${c.evidence}`),
      explain(report),
    ).toEqual([]);
    const ids = report.checks.map((c) => c.id);
    for (const id of [...mustHave, "probe"]) expect(ids, explain(report)).toContain(id);
    expect(ids.every((id) => (CHECK_ORDER as readonly string[]).includes(id))).toBe(true);
  });

  it("with a foreign nftables table that accepts, names its chains and passes", async () => {
    await reset();
    await sh(
      nft("ns-dr", "add", "table", "inet", "guard"),
      nft(
        "ns-dr",
        "add",
        "chain",
        "inet",
        "guard",
        "fw",
        "{ type filter hook forward priority 0; policy drop; }",
      ),
      nft(
        "ns-dr",
        "add",
        "rule",
        "inet",
        "guard",
        "fw",
        "ct",
        "state",
        "established,related",
        "accept",
      ),
      nft(
        "ns-dr",
        "add",
        "rule",
        "inet",
        "guard",
        "fw",
        "iifname",
        "br-c",
        "ip",
        "saddr",
        "10.1.0.0/24",
        "accept",
      ),
    );
    try {
      const report = await diagnose(host, {
        from: { namespace: "ns-dc", address: "10.1.0.1" },
        to: SERVER(),
      });
      expect(report.healthy, explain(report)).toBe(true);
      const check = report.checks.find((c) => c.id === "nft.forward");
      expect(check?.status, explain(report)).toBe("ok");
      expect(check?.evidence).toMatch(/inet guard fw: hook forward priority 0 policy drop/);
      expect(check?.evidence).toMatch(/reply 10.2.0.1 → 10.1.0.1 at forward: accept by ct state/);
    } finally {
      await reset();
    }
  });
});

/** One fault, the check that must name it first, and where to. */
interface Fault {
  readonly label: string;
  readonly fault: () => string[][];
  readonly to: () => DoctorRequest["to"];
  readonly expectId: string;
  /** A word the evidence must hold. */
  readonly evidence?: RegExp;
}

/** Forget what the namespaces resolved while the path was healthy: the fault must show at once. */
const FLUSH = () => NAMESPACES.map((n) => ip(n, "neigh", "flush", "all"));

const faults: Fault[] = [
  {
    label: "the router's interface to the server is down (not the routing loop that follows)",
    fault: () => [ip("ns-dr", "link", "set", "dr-s", "down")],
    to: SERVER,
    expectId: "link.down",
    evidence: /dr-s has 10.2.0.254\/24 but is down/,
  },
  {
    label: "the router's interface to the server lost its address",
    fault: () => [ip("ns-dr", "addr", "flush", "dev", "dr-s")],
    to: SERVER,
    expectId: "link.address",
    evidence: /routes by 10.2.0.254/,
  },
  {
    label: "ARP off on the client's interface",
    fault: () => [ip("ns-dc", "link", "set", "dc-r", "arp", "off"), ...FLUSH()],
    to: SERVER,
    expectId: "neigh.arp",
    evidence: /NOARP/,
  },
  {
    label: "ARP off on the server's interface",
    fault: () => [ip("ns-ds", "link", "set", "ds-r", "arp", "off"), ...FLUSH()],
    to: SERVER,
    expectId: "neigh.arp",
    evidence: /does not answer/,
  },
  {
    label: "arp_ignore 8 on the server's interface",
    fault: () => [exec("ns-ds", "sysctl", "-qw", "net.ipv4.conf.ds-r.arp_ignore=8"), ...FLUSH()],
    to: SERVER,
    expectId: "neigh.ignore",
    evidence: /mode 8/,
  },
  {
    label: "arp_ignore 8 for all interfaces of the bridged neighbour",
    fault: () => [exec("ns-de", "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=8"), ...FLUSH()],
    to: NEIGHBOUR,
    expectId: "neigh.ignore",
  },
  {
    label: "arp_filter on the server with its route to the router by another interface",
    fault: () => [
      ip("ns-ds", "link", "add", "dd0", "type", "veth", "peer", "name", "dd1"),
      ip("ns-ds", "link", "set", "dd0", "up"),
      ip("ns-ds", "link", "set", "dd1", "up"),
      ip("ns-ds", "route", "add", "10.2.0.254/32", "dev", "dd0"),
      exec("ns-ds", "sysctl", "-qw", "net.ipv4.conf.ds-r.arp_filter=1"),
      ...FLUSH(),
    ],
    to: SERVER,
    expectId: "neigh.filter",
  },
  {
    label: "a wrong static neighbour entry for the gateway",
    fault: () => [
      ip(
        "ns-dc",
        "neigh",
        "replace",
        "10.1.0.254",
        "lladdr",
        "02:00:00:00:dd:01",
        "dev",
        "dc-r",
        "nud",
        "permanent",
      ),
    ],
    to: SERVER,
    expectId: "neigh.static",
    evidence: /02:00:00:00:dd:01/,
  },
  {
    label: "a blackhole rule at the source",
    fault: () => [ip("ns-dc", "rule", "add", "priority", "100", "to", "10.2.0.0/24", "blackhole")],
    to: SERVER,
    expectId: "route.rule",
    evidence: /rule 100 .*blackholes it/,
  },
  {
    label: "a prohibit rule at the router for traffic coming in by the bridge",
    fault: () => [
      ip("ns-dr", "rule", "add", "priority", "100", "iif", "br-c", "to", "10.2.0.0/24", "prohibit"),
    ],
    to: SERVER,
    expectId: "route.rule",
    evidence: /iif br-c prohibit/,
  },
  {
    label: "a rule at the router blackholing the server's replies",
    fault: () => [
      ip(
        "ns-dr",
        "rule",
        "add",
        "priority",
        "100",
        "from",
        "10.2.0.0/24",
        "iif",
        "dr-s",
        "blackhole",
      ),
    ],
    to: SERVER,
    expectId: "route.rule",
    evidence: /10.2.0.1 → 10.1.0.1 coming in by dr-s/,
  },
  {
    label: "a prohibit rule at the server for its own replies",
    fault: () => [ip("ns-ds", "rule", "add", "priority", "100", "to", "10.1.0.0/24", "prohibit")],
    to: SERVER,
    expectId: "route.rule",
  },
  {
    label: "a rule at the router into a table whose route is unreachable",
    fault: () => [
      ip("ns-dr", "route", "add", "unreachable", "default", "table", "100"),
      ip("ns-dr", "rule", "add", "priority", "100", "from", "10.1.0.0/24", "lookup", "100"),
    ],
    to: SERVER,
    expectId: "route.rule",
    evidence: /table 100, whose route .* is "unreachable default"/,
  },
  {
    label: "a foreign nftables table with a policy-drop forward chain at the router",
    fault: () => [
      nft("ns-dr", "add", "table", "inet", "guard"),
      nft(
        "ns-dr",
        "add",
        "chain",
        "inet",
        "guard",
        "fw",
        "{ type filter hook forward priority 0; policy drop; }",
      ),
    ],
    to: SERVER,
    expectId: "nft.forward",
    evidence: /policy drop of inet guard fw/,
  },
  {
    label: "a drop in a chain the router's forward chain jumps to",
    fault: () => [
      nft("ns-dr", "add", "table", "ip", "guard"),
      nft("ns-dr", "add", "chain", "ip", "guard", "checks"),
      nft("ns-dr", "add", "rule", "ip", "guard", "checks", "ip", "daddr", "10.2.0.0/24", "drop"),
      nft(
        "ns-dr",
        "add",
        "chain",
        "ip",
        "guard",
        "fw",
        "{ type filter hook forward priority 10; policy accept; }",
      ),
      nft("ns-dr", "add", "rule", "ip", "guard", "fw", "iifname", "br-c", "jump", "checks"),
    ],
    to: SERVER,
    expectId: "nft.forward",
    evidence: /ip daddr 10.2.0.0\/24 drop \(in ip guard fw\)/,
  },
  {
    label: "nftables' arp family dropping ARP requests at the server",
    fault: () => [
      nft("ns-ds", "add", "table", "arp", "guard"),
      nft(
        "ns-ds",
        "add",
        "chain",
        "arp",
        "guard",
        "ai",
        "{ type filter hook input priority 0; policy drop; }",
      ),
      ...FLUSH(),
    ],
    to: SERVER,
    expectId: "neigh.nft",
    evidence: /policy drop of arp guard ai/,
  },
  {
    label: "a policy-drop nftables forward chain where br_netfilter hands it bridged traffic",
    fault: () => [
      nft("ns-dr", "add", "table", "inet", "guard"),
      nft(
        "ns-dr",
        "add",
        "chain",
        "inet",
        "guard",
        "fw",
        "{ type filter hook forward priority 0; policy drop; }",
      ),
    ],
    to: NEIGHBOUR,
    expectId: "nft.forward",
    evidence: /at forward: drop by policy drop of inet guard fw/,
  },
  {
    label: "nftables' bridge family dropping frames between two ports of the bridge",
    fault: () => [
      nft("ns-dr", "add", "table", "bridge", "guard"),
      nft(
        "ns-dr",
        "add",
        "chain",
        "bridge",
        "guard",
        "bf",
        "{ type filter hook forward priority 0; policy accept; }",
      ),
      nft(
        "ns-dr",
        "add",
        "rule",
        "bridge",
        "guard",
        "bf",
        "iifname",
        "dr-c1",
        "oifname",
        "dr-c2",
        "drop",
      ),
    ],
    to: NEIGHBOUR,
    expectId: "nft.bridge",
    evidence: /iifname "dr-c1" oifname "dr-c2" drop/,
  },
  {
    label: "nftables' bridge family dropping what goes up to the router's bridge",
    fault: () => [
      nft("ns-dr", "add", "table", "bridge", "guard"),
      nft(
        "ns-dr",
        "add",
        "chain",
        "bridge",
        "guard",
        "bi",
        "{ type filter hook input priority 0; policy drop; }",
      ),
      ...FLUSH(),
    ],
    to: SERVER,
    expectId: "nft.bridge",
  },
  {
    label: "a foreign nftables table with a policy-drop input chain at the server",
    fault: () => [
      nft("ns-ds", "add", "table", "inet", "guard"),
      nft(
        "ns-ds",
        "add",
        "chain",
        "inet",
        "guard",
        "inp",
        "{ type filter hook input priority 0; policy drop; }",
      ),
    ],
    to: SERVER,
    expectId: "nft.input",
  },
  {
    label: "an nftables output rule at the client dropping the server's network",
    fault: () => [
      nft("ns-dc", "add", "table", "inet", "guard"),
      nft(
        "ns-dc",
        "add",
        "chain",
        "inet",
        "guard",
        "out",
        "{ type filter hook output priority 0; policy accept; }",
      ),
      nft("ns-dc", "add", "rule", "inet", "guard", "out", "ip", "daddr", "10.2.0.0/24", "drop"),
    ],
    to: SERVER,
    expectId: "nft.output",
  },
];

describe("names the fault first, and its fix makes the path work", () => {
  it.each(faults.map((f) => [f.label, f] as const))("%s", async (_label, f) => {
    await reset();
    const to = f.to();
    const dst = to.address!;
    expect(await ping(dst, "works"), "the healthy topology works").toBe(true);

    await sh(...f.fault());
    expect(await ping(dst, "broken"), "the fault breaks the path").toBe(false);

    const request: DoctorRequest = { from: { namespace: "ns-dc", address: "10.1.0.1" }, to };
    const broken = await diagnose(host, request);
    expect(broken.firstFailure?.id, explain(broken)).toBe(f.expectId);
    if (f.evidence) expect(broken.firstFailure?.evidence, explain(broken)).toMatch(f.evidence);
    expect(broken.firstFailure?.fix, explain(broken)).toBeTruthy();
    const at = broken.checks.findIndex((c) => c.status === "fail");
    for (const c of broken.checks.slice(0, at))
      expect(c.status, `${c.id}${explain(broken)}`).not.toBe("fail");

    const applied = await h1.exec(["sh", "-c", broken.firstFailure!.fix!]);
    expect(applied.exitCode, `${broken.firstFailure!.fix}: ${applied.stderr}`).toBe(0);
    // The kernel settles after a fix (a link's carrier, a bridge port, ARP's retries): the
    // path must work within seconds, and then the doctor must find it healthy.
    await waitFor(() => ping(dst, "works"), {
      timeoutMs: 15_000,
      what: `the path to ${dst} to work after the fix`,
    });

    const fixed = await diagnose(host, request);
    expect(fixed.healthy, explain(fixed)).toBe(true);
    expect(fixed.checks.find((c) => c.id === "probe")?.status, explain(fixed)).toBe("ok");
    expect(await ping(dst, "works"), "the fix makes the path work").toBe(true);
  });

  it("names the segment where ARP gets no answer when nothing it reads explains it (broadcasts not flooded to a port)", async () => {
    await reset();
    await sh(
      ip("ns-dr", "link", "set", "dr-c2", "type", "bridge_slave", "bcast_flood", "off"),
      ...FLUSH(),
    );
    expect(await ping("10.1.0.2", "broken")).toBe(false);
    const report = await diagnose(host, {
      from: { namespace: "ns-dc", address: "10.1.0.1" },
      to: NEIGHBOUR(),
    });
    expect(report.firstFailure?.id, explain(report)).toBe("neigh.failed");
    expect(report.firstFailure?.evidence).toMatch(/10.1.0.2 dev dc-r (FAILED|INCOMPLETE)/);
  });

  afterAll(async () => {
    await tearDown();
  });
});

/** On lab host "up": ns-dz 10.60.0.1 behind up's u-dz 10.60.0.254; h1 routes 10.60.0.0/24 to up. */
describe("across two hosts", () => {
  async function upSh(...commands: string[][]): Promise<void> {
    for (const argv of commands) {
      const r = await up.exec(argv);
      if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim()}`);
    }
  }
  const FAR = { address: "10.60.0.1" };
  const request: DoctorRequest = { from: { namespace: "ns-dc", address: "10.1.0.1" }, to: FAR };

  beforeAll(async () => {
    await reset();
    await upSh(
      ["ip", "netns", "add", "ns-dz"],
      veth("", "u-dz", "ns-dz", "dz-u"),
      ["ip", "addr", "add", "10.60.0.254/24", "dev", "u-dz"],
      ["ip", "link", "set", "u-dz", "up"],
      ip("ns-dz", "addr", "add", "10.60.0.1/24", "dev", "dz-u"),
      ip("ns-dz", "link", "set", "dz-u", "up"),
      ip("ns-dz", "route", "add", "default", "via", "10.60.0.254"),
      ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
    );
    await sh(["ip", "route", "add", "10.60.0.0/24", "via", up.address]);
  });
  afterAll(async () => {
    await h1.exec(["ip", "route", "del", "10.60.0.0/24"]);
    await up.exec(["ip", "link", "del", "u-dz"]);
    await up.exec(["ip", "netns", "del", "ns-dz"]);
  });

  it("follows the path out of h1 into up, to a namespace there, with no warning", async () => {
    expect(await ping("10.60.0.1", "works")).toBe(true);
    const report = await diagnoseAcross([host, upHost], request);
    expect(
      report.checks.filter((c) => c.status !== "ok").map((c) => `${c.id}: ${c.evidence}`),
      explain(report),
    ).toEqual([]);
    expect(report.host).toBe(`${h1.address} → ${up.address}`);
    expect(report.destination).toMatchObject({ namespace: "ns-dz", onHost: true });
    expect(report.path.at(-1)).toMatchObject({
      host: up.address,
      namespace: "ns-dz",
      note: "destination",
    });
    const wheres = report.checks.map((c) => c.where);
    expect(wheres).toContain(`${up.address}:host`);
    expect(wheres).toContain(`${up.address}:ns-dz`);
    expect(report.checks.at(-1)).toMatchObject({ id: "probe", status: "ok" });
  });

  it("linuxnet doctor --next follows the same path and exits 0", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    const code = await main(
      [
        "doctor",
        "--host",
        h1.address,
        "--key",
        h1.privateKeyPath,
        "--host-key",
        h1.hostKey,
        "--next",
        up.address,
        "--next-host-key",
        up.hostKey,
        "--from",
        "ns-dc/10.1.0.1",
        "--to",
        "10.60.0.1",
      ],
      io,
    );
    const text = out.join("\n") + err.join("\n");
    expect(code, text).toBe(0);
    expect(text).toContain(`[${up.address}:ns-dz]`);
    expect(text).toMatch(/HEALTHY/);
    expect(text).not.toContain(h1.privateKey.trim().split("\n")[1]!);
  });

  it.each([
    [
      "forwarding off on the next host",
      [["sysctl", "-qw", "net.ipv4.ip_forward=0"]],
      "forwarding",
      "host",
    ],
    [
      "a policy-drop nftables input chain in the far namespace",
      [
        nft("ns-dz", "add", "table", "inet", "guard"),
        nft(
          "ns-dz",
          "add",
          "chain",
          "inet",
          "guard",
          "inp",
          "{ type filter hook input priority 0; policy drop; }",
        ),
      ],
      "nft.input",
      "ns-dz",
    ],
  ])(
    "names a fault on the next host first, and its fix works: %s",
    async (_l, fault, id, where) => {
      await upSh(...fault);
      expect(await ping("10.60.0.1", "broken")).toBe(false);
      const broken = await diagnoseAcross([host, upHost], request);
      expect(broken.firstFailure?.id, explain(broken)).toBe(id);
      expect(broken.firstFailure?.where).toBe(`${up.address}:${where}`);
      // The fix is for a root shell on the host the check names.
      const applied = await up.exec(["sh", "-c", broken.firstFailure!.fix!]);
      expect(applied.exitCode, applied.stderr).toBe(0);
      const fixed = await diagnoseAcross([host, upHost], request);
      expect(fixed.healthy, explain(fixed)).toBe(true);
      expect(await ping("10.60.0.1", "works")).toBe(true);
    },
  );
});
