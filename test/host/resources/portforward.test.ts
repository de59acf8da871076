/**
 * PortForward on real lab hosts over real SSH, driven through the dynamic
 * provider, with real traffic: a TCP and UDP service in namespace pf-green on
 * h1 (a few lines of node), reached through h1's fabric address from a second
 * lab host h2, from h1 itself (`fromHost`), and from pf-blue on the same
 * bridge as pf-green (the hairpin). Each forwarded exchange is printed: what
 * was sent, what came back.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLab } from "../../../lab/labhost";
import { closeAllSessions, transportStats } from "../../../provider/transport";
import { hostSnapshots } from "../../../provider/runtime";
import { requireRoot } from "../../support/lab";
import { snapshotHost } from "../../support/snapshot";
import { waitFor } from "../../support/wait";
import {
  Driver,
  type LabContext,
  type Managed,
  afterFailure,
  inNs,
  ipForward,
  labelled,
  oob,
  oobAll,
  oobResult,
  rules,
  setIpForward,
} from "../support";

const ctx = {} as LabContext;
let h2: LabContext["h"];
const pf = () => new Driver("PortForward", ctx);

const GREEN = "pf-green";
const BLUE = "pf-blue";
const TARGET = "10.77.0.2";

/** The service in pf-green: TCP on 80-82 and UDP on 5353, each answering with what it saw. */
const SERVER = `
const net = require("net"), dgram = require("dgram");
for (const port of [80, 81, 82]) {
  net.createServer((s) => s.once("data", (d) =>
    s.end("pf-green " + s.localAddress + ":" + port + " got " + JSON.stringify(String(d)) + " from " + s.remoteAddress)
  )).listen(port, "${TARGET}");
}
const u = dgram.createSocket("udp4");
u.on("message", (m, r) => u.send("pf-green udp 5353 got " + JSON.stringify(String(m)) + " from " + r.address, r.port, r.address));
u.bind(5353, "${TARGET}");
`;

/** A client: sends one message over tcp or udp and prints the answer, or ERROR <code>, or TIMEOUT. */
const CLIENT = `
const [proto, host, port, msg] = process.argv.slice(1);
setTimeout(() => { console.log("TIMEOUT"); process.exit(2); }, 3000);
if (proto === "tcp") {
  let out = "";
  const s = require("net").connect(Number(port), host, () => s.write(msg));
  s.on("data", (d) => (out += d));
  s.on("end", () => { console.log(out); process.exit(0); });
  s.on("error", (e) => { console.log("ERROR " + e.code); process.exit(1); });
} else {
  const u = require("dgram").createSocket("udp4");
  u.on("message", (m) => { console.log(String(m)); process.exit(0); });
  u.send(msg, Number(port), host);
}
`;

/** Sends `msg` from `where` (a lab host, and a namespace in it) and returns the answer; logs the exchange. */
async function exchange(
  where: { h: LabContext["h"]; ns?: string; label: string },
  proto: "tcp" | "udp",
  address: string,
  port: number,
  msg: string,
): Promise<string> {
  const r = await oobResult(
    where.h,
    inNs(where.ns, ["node", "-e", CLIENT, proto, address, String(port), msg]),
  );
  const answer = r.stdout.trim() || r.stderr.trim();
  console.log(
    `[transcript] ${where.label} -> ${proto} ${address}:${port}\n  sent:     ${JSON.stringify(msg)}\n  received: ${answer}`,
  );
  return answer;
}

/** The nat rules of h1 (the host itself) as `iptables -S` prints them. */
const natRules = () => rules(ctx.h, undefined, "nat");

/** What our resources keep on h1 outside iptables (a forwarding record). */
async function runState(): Promise<string> {
  return (await oobResult(ctx.h, ["find", "/run/linuxnet", "-mindepth", "1"])).stdout.trim();
}

let serverPid = "";

beforeAll(async () => {
  requireRoot("the host tier");
  ctx.lab = await startLab({ id: "pf1", hosts: [{ name: "h1" }, { name: "h2" }] });
  ctx.h = ctx.lab.host("h1");
  h2 = ctx.lab.host("h2");
  ctx.connection = { host: ctx.h.address, privateKey: ctx.h.privateKey, hostKey: ctx.h.hostKey };
  ctx.connectionsAtStart = transportStats.connections;
  // h1: bridge pfbr0 (10.77.0.254/24) with pf-green (.2) and pf-blue (.1) on it, their gateway.
  const steps: string[][] = [
    ["ip", "link", "add", "pfbr0", "type", "bridge"],
    ["ip", "addr", "add", "10.77.0.254/24", "dev", "pfbr0"],
    ["ip", "link", "set", "pfbr0", "up"],
  ];
  for (const [ns, host] of [
    [GREEN, 2],
    [BLUE, 1],
  ] as const) {
    steps.push(
      ["ip", "netns", "add", ns],
      ["ip", "link", "add", `${ns}-br`, "type", "veth", "peer", "name", "eth0", "netns", ns],
      ["ip", "link", "set", `${ns}-br`, "master", "pfbr0", "up"],
      ["ip", "-n", ns, "addr", "add", `10.77.0.${host}/24`, "dev", "eth0"],
      ["ip", "-n", ns, "link", "set", "eth0", "up"],
      ["ip", "-n", ns, "link", "set", "lo", "up"],
      ["ip", "-n", ns, "route", "add", "default", "via", "10.77.0.254"],
    );
  }
  await oobAll(ctx.h, steps);
  serverPid = (
    await oob(ctx.h, [
      "sh",
      "-c",
      'ip netns exec "$1" node -e "$2" >/dev/null 2>&1 & echo $!',
      "sh",
      GREEN,
      SERVER,
    ])
  ).trim();
  await waitFor(
    async () =>
      (await oob(ctx.h, inNs(GREEN, ["ss", "-Hln", "sport", "=", ":5353"]))).trim() !== "",
    { timeoutMs: 10_000, what: () => "the service in pf-green to listen" },
  );
}, 60_000);

afterAll(async () => {
  await closeAllSessions();
  if (serverPid) await oobResult(ctx.h, ["kill", serverPid]);
  await ctx.lab?.teardown();
});

afterFailure(async () => {
  await oob(ctx.h, ["iptables", "-w", "-t", "nat", "-F"]);
  await setIpForward(ctx.h, undefined, 0);
  await oob(ctx.h, ["rm", "-rf", "/run/linuxnet/ip_forward"]);
});

/** The lines our forward `res` has in the nat table, as `iptables -S` prints them. */
function lines(
  res: Managed,
  spec: { hostPort: string; to: string; local?: boolean; iface?: string; proto?: string },
) {
  const tag = res.outs.tag as string;
  const p = spec.proto ?? "tcp";
  const dport = spec.hostPort.replace("-", ":");
  const match = `-p ${p} -m addrtype --dst-type LOCAL -m ${p} --dport ${dport} -m comment --comment "${tag}" -j DNAT --to-destination ${spec.to}`;
  return [
    `-A PREROUTING ${spec.iface ? `-i ${spec.iface} ` : ""}${match}`,
    ...(spec.local ? [`-A OUTPUT ! -d 127.0.0.0/8 ${match}`] : []),
  ];
}

describe("PortForward", () => {
  it("forwards TCP from another host to a service in a namespace, hairpins a neighbour on its bridge, and on delete puts everything back", async () => {
    const before = await snapshotHost(ctx.h);
    expect(await ipForward(ctx.h)).toBe("0");
    const d = pf();
    const res = await d.create({ hostPort: 8080, to: `${TARGET}:80` });
    expect(res.id).toMatch(/^pf-[0-9a-f]{8}$/);
    expect(res.outs).toMatchObject({
      tag: `linuxnet:${res.id}:fwd`,
      hairpinSource: "10.77.0.0/24",
      forwardingBefore: 0,
      rulesIntact: true,
    });
    const tag = res.outs.tag as string;
    expect(await natRules()).toEqual([
      ...lines(res, { hostPort: "8080", to: `${TARGET}:80` }),
      `-A POSTROUTING -s 10.77.0.0/24 -d ${TARGET}/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -m comment --comment "${tag}" -j MASQUERADE`,
    ]);
    expect(await ipForward(ctx.h)).toBe("1");

    // From another host on the fabric: the service sees h2's own address.
    expect(
      await exchange({ h: h2, label: "h2" }, "tcp", ctx.h.address, 8080, "hello from h2"),
    ).toBe(`pf-green ${TARGET}:80 got "hello from h2" from ${h2.address}`);
    // From the same bridge: masqueraded to the bridge's address, or the answer would bypass h1.
    expect(
      await exchange(
        { h: ctx.h, ns: BLUE, label: "h1/pf-blue" },
        "tcp",
        ctx.h.address,
        8080,
        "hello from pf-blue",
      ),
    ).toBe(`pf-green ${TARGET}:80 got "hello from pf-blue" from 10.77.0.254`);
    // Without fromHost, h1's own connections are not forwarded: nothing listens on h1 itself.
    expect(
      await exchange({ h: ctx.h, label: "h1 (no fromHost)" }, "tcp", ctx.h.address, 8080, "x"),
    ).toBe("ERROR ECONNREFUSED");
    await d.expectNoDrift(res);

    await d.delete(res);
    expect(await snapshotHost(ctx.h)).toEqual(before);
    expect(await runState()).toBe("");
    await d.delete(res);
    expect(await snapshotHost(ctx.h)).toEqual(before);
  });

  it("forwards the host's own connections to its own address with fromHost, not 127.0.0.1", async () => {
    const before = await snapshotHost(ctx.h);
    const d = pf();
    const res = await d.create({ hostPort: 8081, to: `${TARGET}:81`, fromHost: true });
    expect((await natRules()).filter((l) => !l.startsWith("-A POSTROUTING"))).toEqual(
      lines(res, { hostPort: "8081", to: `${TARGET}:81`, local: true }),
    );
    expect(
      await exchange(
        { h: ctx.h, label: "h1 (fromHost)" },
        "tcp",
        ctx.h.address,
        8081,
        "hello from h1 itself",
      ),
    ).toBe(`pf-green ${TARGET}:81 got "hello from h1 itself" from ${ctx.h.address}`);
    expect(
      await exchange({ h: ctx.h, label: "h1 via loopback" }, "tcp", "127.0.0.1", 8081, "x"),
    ).toBe("ERROR ECONNREFUSED");
    expect(
      await exchange({ h: h2, label: "h2" }, "tcp", ctx.h.address, 8081, "hello again from h2"),
    ).toMatch(/got "hello again from h2"/);
    await d.expectNoDrift(res);
    await d.delete(res);
    expect(await snapshotHost(ctx.h)).toEqual(before);
  });

  it("forwards UDP, and a range of ports onto a range of the same size", async () => {
    const before = await snapshotHost(ctx.h);
    const d = pf();
    const udp = await d.create({ protocol: "udp", hostPort: 5353, to: `${TARGET}:5353` });
    const range = await d.create({ hostPort: "9000-9002", to: `${TARGET}:80` });
    expect(range.inputs.hostPort).toBe("9000-9002");
    expect(await natRules()).toEqual(
      expect.arrayContaining([
        ...lines(udp, { proto: "udp", hostPort: "5353", to: `${TARGET}:5353` }),
        ...lines(range, { hostPort: "9000-9002", to: `${TARGET}:80-82/9000` }),
      ]),
    );
    expect(
      await exchange({ h: h2, label: "h2" }, "udp", ctx.h.address, 5353, "udp hello from h2"),
    ).toBe(`pf-green udp 5353 got "udp hello from h2" from ${h2.address}`);
    for (const [hostPort, port] of [
      [9000, 80],
      [9001, 81],
      [9002, 82],
    ]) {
      expect(
        await exchange({ h: h2, label: "h2" }, "tcp", ctx.h.address, hostPort!, `to ${hostPort}`),
      ).toBe(`pf-green ${TARGET}:${port} got "to ${hostPort}" from ${h2.address}`);
    }
    await d.expectNoDrift(udp);
    await d.expectNoDrift(range);
    // Forwarding stays on until the last of the two goes.
    await d.delete(udp);
    expect(await ipForward(ctx.h)).toBe("1");
    await d.delete(range);
    expect(await snapshotHost(ctx.h)).toEqual(before);
  });

  it("only forwards what arrives on inInterface", async () => {
    const before = await snapshotHost(ctx.h);
    const d = pf();
    const res = await d.create({ hostPort: 8082, to: `${TARGET}:82`, inInterface: "eth0" });
    expect((await natRules()).filter((l) => l.startsWith("-A PREROUTING"))).toEqual(
      lines(res, { hostPort: "8082", to: `${TARGET}:82`, iface: "eth0" }),
    );
    expect(
      await exchange({ h: h2, label: "h2 (via eth0)" }, "tcp", ctx.h.address, 8082, "in on eth0"),
    ).toMatch(/got "in on eth0"/);
    expect(
      await exchange(
        { h: ctx.h, ns: BLUE, label: "h1/pf-blue (via pfbr0)" },
        "tcp",
        ctx.h.address,
        8082,
        "x",
      ),
    ).toBe("ERROR ECONNREFUSED");
    await d.expectNoDrift(res);
    await d.delete(res);
    expect(await snapshotHost(ctx.h)).toEqual(before);
  });

  it("shows a rule deleted out of band as drift that up repairs, and all of them gone as gone", async () => {
    const before = await snapshotHost(ctx.h);
    const d = pf();
    const res = await d.create({ hostPort: 8083, to: `${TARGET}:80`, fromHost: true });
    const [prerouting] = lines(res, { hostPort: "8083", to: `${TARGET}:80` });
    await oob(ctx.h, [
      "iptables",
      "-w",
      "-t",
      "nat",
      "-D",
      ...prerouting!
        .split(" ")
        .slice(1)
        .map((w) => w.replaceAll('"', "")),
    ]);
    expect(
      await exchange({ h: h2, label: "h2 (rule gone)" }, "tcp", ctx.h.address, 8083, "x"),
    ).toBe("ERROR ECONNREFUSED");

    const drifted = await d.read(res);
    expect(drifted?.rulesIntact).toBe(false);
    const diff = await d.provider.diff!(res.id, drifted!, res.inputs);
    expect(diff.changes).toBe(true);
    expect(diff.replaces ?? []).toEqual([]);
    const repaired = await d.provider.update!(res.id, drifted!, res.inputs);
    expect(repaired.outs.rulesIntact).toBe(true);
    expect(
      await exchange({ h: h2, label: "h2 (repaired)" }, "tcp", ctx.h.address, 8083, "after repair"),
    ).toMatch(/got "after repair"/);
    const current = { ...res, outs: { ...res.outs, ...repaired.outs } };
    await d.expectNoDrift(current);

    // Every rule flushed behind our back: gone; delete still puts ip_forward back.
    await oob(ctx.h, ["iptables", "-w", "-t", "nat", "-F"]);
    // A refresh is a later run: not answered from the snapshot the read above took.
    hostSnapshots.clear();
    expect(await d.read(current)).toBeUndefined();
    await d.delete(current);
    expect(await snapshotHost(ctx.h)).toEqual(before);
    expect(await runState()).toBe("");
  });

  it.each(
    labelled([
      { label: "the PortForward first", first: "PortForward" },
      { label: "the NatRule first", first: "NatRule" },
    ]),
  )(
    "shares forwarding with a NatRule: the last to go puts it back, deleting %s",
    async (_label, { first }) => {
      const before = await snapshotHost(ctx.h);
      const nat = new Driver("NatRule", ctx);
      const made = {
        PortForward: await pf().create({ hostPort: 8084, to: `${TARGET}:80` }),
        NatRule: await nat.create({ source: "10.77.0.0/24", outInterface: "eth0" }),
      };
      const last = first === "NatRule" ? "PortForward" : "NatRule";
      await new Driver(first as "NatRule", ctx).delete(made[first as "NatRule"]);
      expect(await ipForward(ctx.h)).toBe("1");
      await new Driver(last, ctx).delete(made[last]);
      expect(await ipForward(ctx.h)).toBe("0");
      expect(await snapshotHost(ctx.h)).toEqual(before);
    },
  );

  it("fails in a namespace that is not there, with the kernel's words, and leaves nothing", async () => {
    const before = await snapshotHost(ctx.h);
    const error = await pf().createFails({
      namespace: "pf-none",
      hostPort: 8085,
      to: `${TARGET}:80`,
    });
    expect(error.message).toContain(ctx.h.address);
    expect(error.message).toMatch(/Cannot open network namespace "pf-none"/);
    expect(await snapshotHost(ctx.h)).toEqual(before);
    expect(await runState()).toBe("");
  });
});
