import { describe, expect, it } from "vitest";
import {
  type DoctorRequest,
  diagnose,
  formatReport,
  validateRequest,
} from "../../../provider/doctor";
import { fixture, replayHost } from "./replay";

/** Replays a recording made on a lab host (fixtures/record.js), with the request it was made for. */
async function replay(name: string) {
  const host = replayHost(name);
  const { request } = fixture<{ request: DoctorRequest }>(name);
  return { report: await diagnose(host, request), host };
}

describe("diagnose, replayed from lab recordings", () => {
  it("walks ns-blue to ns-green across br0: every check passes, in path order", async () => {
    const { report } = await replay("healthy-bridged.json");
    expect(report.healthy).toBe(true);
    expect(report.checks.map((c) => `${c.status} ${c.id} ${c.where ?? ""}`.trim())).toEqual([
      "ok source.namespace ns-blue",
      "ok destination ns-green",
      "ok source.interface ns-blue",
      "ok source.address ns-blue",
      "ok route ns-blue",
      "ok iptables.output ns-blue",
      "ok veth.peer host",
      "ok veth.peer.up host",
      "ok bridge.up host",
      "ok bridge.port host",
      "ok bridge.port.state host",
      "ok route.gateway ns-green",
      "ok nexthop.link ns-green",
      "ok neigh.arp ns-blue",
      "ok iptables.forward host",
      "ok rp_filter ns-green",
      "ok iptables.input ns-green",
      "ok route.reply ns-green",
      "ok mtu",
      "ok address.conflict",
      "ok probe ns-blue",
    ]);
    expect(report.path).toEqual([
      { namespace: "ns-blue", out: "veth-blue" },
      { namespace: "ns-green", in: "veth-green", bridge: "br0", note: "destination" },
    ]);
    expect(report.checks.find((c) => c.id === "iptables.forward")?.evidence).toMatch(
      /bridge-nf-call-iptables = 1.*\n.*ACCEPT by -A FORWARD -i br0 -o br0 -j ACCEPT/,
    );
  });

  it("reads the host once: only the route lookups and the probe run on their own", async () => {
    const { host } = await replay("healthy-bridged.json");
    expect(host.asked).toEqual([
      "sh -c '<linuxnet host snapshot +nsids +sysctl +neigh +rule +ruleset>'",
      "ip -n ns-blue -json route get 10.0.0.2",
      "ip -n ns-green -json route get 10.0.0.1 from 10.0.0.2",
      "ip netns exec ns-blue ping -c 1 -w 3 10.0.0.2",
      "ip netns exec ns-blue ping -c 1 -w 3 -M do -s 1472 10.0.0.2",
    ]);
  });

  it("walks ns-blue out through the host: forwarding, FORWARD, rp_filter and MASQUERADE pass", async () => {
    const { report } = await replay("healthy-egress.json");
    expect(report.healthy).toBe(true);
    expect(report.checks.every((c) => c.status === "ok")).toBe(true);
    expect(report.destination).toMatchObject({ address: "10.213.175.12", onHost: false });
    expect(report.path).toEqual([
      { namespace: "ns-blue", out: "veth-blue", via: "10.0.0.254" },
      { namespace: undefined, in: "br0", out: "eth0", note: "leaves the host" },
    ]);
    for (const id of ["forwarding", "rp_filter", "nat.masquerade"]) {
      expect(report.checks.map((c) => c.id)).toContain(id);
    }
  });

  it("stops at a bridge that is down, with the kernel's words and the fix", async () => {
    const { report } = await replay("bridge-down.json");
    expect(report.healthy).toBe(false);
    expect(report.firstFailure).toMatchObject({
      id: "bridge.up",
      where: "host",
      fix: "ip link set dev br0 up",
      fixCommands: [["ip", "link", "set", "dev", "br0", "up"]],
    });
    expect(report.firstFailure?.evidence).toMatch(/br0: <BROADCAST,MULTICAST> .* state DOWN/);
    const after = report.checks.slice(report.checks.indexOf(report.firstFailure!) + 1);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((c) => c.status === "skip")).toBe(true);
  });

  it("runs no probe once the path is known broken", async () => {
    const { host } = await replay("bridge-down.json");
    expect(host.asked.some((c) => c.includes("ping"))).toBe(false);
  });

  it("names a missing MASQUERADE with the rule that would fix it", async () => {
    const { report } = await replay("no-masquerade.json");
    expect(report.firstFailure?.id).toBe("nat.masquerade");
    expect(report.firstFailure?.fix).toBe(
      "iptables -w -t nat -A POSTROUTING -s 10.0.0.0/24 -o eth0 -j MASQUERADE",
    );
    expect(formatReport(report)).toMatch(/✗ nat\.masquerade/);
  });
});

describe("validateRequest", () => {
  it.each([
    ["an IPv6 destination", { from: {}, to: { address: "fd00::1" } }, /IPv4/],
    ["a destination with neither address nor namespace", { from: {}, to: {} }, /give an address/],
    ["port 0", { from: {}, to: { address: "10.0.0.2" }, port: 0 }, /port/],
    [
      "TCP without a port",
      { from: {}, to: { address: "10.0.0.2" }, protocol: "tcp" },
      /needs a port/,
    ],
  ] as const)("refuses %s", (_label, request, message) => {
    expect(() => validateRequest(request as DoctorRequest)).toThrow(message);
  });
});
