import { describe, expect, it } from "vitest";
import { type DoctorReport, formatPath, formatReport } from "../../../provider/doctor";

const base: Omit<DoctorReport, "checks" | "healthy" | "firstFailure"> = {
  host: "10.1.0.2",
  request: { from: { namespace: "ns-blue" }, to: { namespace: "ns-green" } },
  source: { namespace: "ns-blue", address: "10.0.0.1" },
  destination: { namespace: "ns-green", address: "10.0.0.2", onHost: true },
  path: [
    { namespace: "ns-blue", out: "veth-blue" },
    { namespace: "ns-green", in: "veth-green", bridge: "br0", note: "destination" },
  ],
  durationMs: 12,
};

describe("formatPath", () => {
  it.each([
    [
      "a bridged path",
      base.path,
      "ns-blue [out veth-blue] → ns-green [veth-green, over br0] (destination)",
    ],
    [
      "a path that leaves the host",
      [
        { namespace: "ns-blue", out: "veth-blue", via: "10.0.0.254" },
        { in: "br0", out: "eth0", note: "leaves the host" },
      ],
      "ns-blue [out veth-blue, via 10.0.0.254] → host [br0, out eth0] (leaves the host)",
    ],
    ["no path at all", [], ""],
  ] as const)("prints %s", (_label, path, want) => {
    expect(formatPath(path)).toBe(want);
  });
});

describe("formatReport", () => {
  it("prints a healthy path with a ✓ per check and no evidence", () => {
    const text = formatReport({
      ...base,
      healthy: true,
      checks: [
        {
          id: "source.namespace",
          title: "namespace ns-blue exists",
          status: "ok",
          where: "ns-blue",
          evidence: "ip netns list: ns-blue",
        },
        {
          id: "probe",
          title: "ns-blue gets an answer",
          status: "ok",
          where: "ns-blue",
          evidence: "64 bytes from 10.0.0.2",
        },
      ],
    });
    expect(text.split("\n")).toEqual([
      "linuxnet doctor on 10.1.0.2: ns-blue (10.0.0.1) → 10.0.0.2 in ns-green, icmp",
      "path: ns-blue [out veth-blue] → ns-green [veth-green, over br0] (destination)",
      "",
      "  ✓ source.namespace  [ns-blue] namespace ns-blue exists",
      "  ✓ probe             [ns-blue] ns-blue gets an answer",
      "",
      "HEALTHY: 2 checks passed (12 ms)",
    ]);
  });

  it("prints the failure's evidence and fix, and the skipped checks on one line", () => {
    const fail = {
      id: "bridge.up",
      title: "bridge br0 (host) is UP",
      status: "fail" as const,
      where: "host",
      evidence: "$ ip link show dev br0\n3: br0: <BROADCAST,MULTICAST> mtu 1500 state DOWN",
      fix: "ip link set dev br0 up && ip -n ns-blue neigh flush to 10.0.0.254",
    };
    const text = formatReport({
      ...base,
      healthy: false,
      firstFailure: fail,
      checks: [
        fail,
        { id: "mtu", title: "mtu", status: "skip", evidence: "" },
        { id: "probe", title: "probe", status: "skip", evidence: "" },
      ],
    });
    expect(text).toContain(
      "  ✗ bridge.up   [host] bridge br0 (host) is UP\n        $ ip link show dev br0\n",
    );
    expect(text).toContain(
      "      fix:\n        ip link set dev br0 up &&\n          ip -n ns-blue neigh flush to 10.0.0.254",
    );
    expect(text).toContain("  · not checked, the path being broken above: mtu, probe");
    expect(text).toMatch(
      /BROKEN at bridge\.up \[host\]: bridge br0 \(host\) is UP — does not hold\.\nfix: ip link set dev br0 up && /,
    );
  });

  it("shows every check's evidence when verbose, and counts warnings", () => {
    const text = formatReport(
      {
        ...base,
        healthy: true,
        checks: [
          { id: "route", title: "routes", status: "ok", evidence: "10.0.0.2 dev veth-blue" },
          {
            id: "iptables.forward",
            title: "FORWARD",
            status: "warn",
            evidence: "a rule the doctor cannot read",
          },
        ],
      },
      { verbose: true },
    );
    expect(text).toContain("        10.0.0.2 dev veth-blue");
    expect(text).toContain("  ! iptables.forward  FORWARD\n        a rule the doctor cannot read");
    expect(text).toContain("HEALTHY: 1 checks passed, 1 warning(s)");
  });

  it("names a TCP probe's port", () => {
    const text = formatReport({
      ...base,
      request: { ...base.request, port: 22 },
      healthy: true,
      checks: [],
    });
    expect(text.split("\n")[0]).toMatch(/, tcp port 22$/);
  });
});
