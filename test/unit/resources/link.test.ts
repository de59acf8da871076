import { stableMac } from "../../../provider/resources/link";
import { describe, expect, it } from "vitest";
import {
  FRESH_LINK,
  type LinkSettings,
  type ObservedLink,
  managedView,
  planLinkChanges,
} from "../../../provider/resources/link";
import { labelled } from "../support";

describe("planLinkChanges", () => {
  it("sets the MTU and the bridge port first, then addresses (deletions first), then up", () => {
    const have: LinkSettings = { addresses: ["10.0.0.1/24"], up: false, mtu: 1500 };
    const want: LinkSettings = { addresses: ["10.0.0.2/24"], up: true, mtu: 9000, bridge: "br0" };
    expect(planLinkChanges("blue", "veth0", have, want)).toEqual([
      ["ip", "-n", "blue", "link", "set", "dev", "veth0", "mtu", "9000"],
      ["ip", "-n", "blue", "link", "set", "dev", "veth0", "master", "br0"],
      ["ip", "-n", "blue", "addr", "del", "10.0.0.1/24", "dev", "veth0"],
      ["ip", "-n", "blue", "addr", "add", "10.0.0.2/24", "dev", "veth0"],
      ["ip", "-n", "blue", "link", "set", "dev", "veth0", "up"],
    ]);
  });

  it("configures a fresh link: addresses, then up", () => {
    expect(
      planLinkChanges(undefined, "br0", FRESH_LINK, { addresses: ["10.0.0.254/24"], up: true }),
    ).toEqual([
      ["ip", "addr", "add", "10.0.0.254/24", "dev", "br0"],
      ["ip", "link", "set", "dev", "br0", "up"],
    ]);
  });

  it.each(
    labelled([
      {
        label: "nothing when the settings agree",
        have: { addresses: ["a/1"], up: true, mtu: 1500, bridge: "br0" },
        want: { addresses: ["a/1"], up: true, mtu: 1500, bridge: "br0" },
        plan: [],
      },
      {
        label: "nothing for an MTU the user left to the kernel",
        have: { addresses: [], up: true, mtu: 1500 },
        want: { addresses: [], up: true },
        plan: [],
      },
      {
        label: "only down when the link should go down",
        have: { addresses: [], up: true },
        want: { addresses: [], up: false },
        plan: [["ip", "link", "set", "dev", "x", "down"]],
      },
      {
        label: "nomaster when the link leaves its bridge",
        have: { addresses: [], up: true, bridge: "br0" },
        want: { addresses: [], up: true },
        plan: [["ip", "link", "set", "dev", "x", "nomaster"]],
      },
      {
        label: "master when the link moves to another bridge",
        have: { addresses: [], up: true, bridge: "br0" },
        want: { addresses: [], up: true, bridge: "br1" },
        plan: [["ip", "link", "set", "dev", "x", "master", "br1"]],
      },
      {
        label: "only the MTU when it alone changes",
        have: { addresses: [], up: true, mtu: 1500 },
        want: { addresses: [], up: true, mtu: 1400 },
        plan: [["ip", "link", "set", "dev", "x", "mtu", "1400"]],
      },
    ]),
  )("plans %s", (_label, { have, want, plan }) => {
    expect(planLinkChanges(undefined, "x", have as LinkSettings, want as LinkSettings)).toEqual(
      plan,
    );
  });
});

describe("managedView", () => {
  const observed: ObservedLink = {
    kind: "bridge",
    addresses: ["10.0.0.254/24"],
    up: true,
    mtu: 1500,
    bridge: undefined,
  };

  it("reports the MTU only when the resource manages it", () => {
    expect(managedView(observed, { addresses: [], up: true }).mtu).toBeUndefined();
    expect(managedView(observed, { addresses: [], up: true, mtu: 9000 }).mtu).toBe(1500);
  });

  it("reports addresses, up and the bridge port as the host has them", () => {
    expect(
      managedView({ ...observed, up: false, bridge: "br9" }, { addresses: ["x/1"], up: true }),
    ).toEqual({
      addresses: ["10.0.0.254/24"],
      up: false,
      mtu: undefined,
      bridge: "br9",
    });
  });
});

describe("stableMac", () => {
  it("is the same for the same host, namespace and name", () => {
    expect(stableMac("10.1.0.2", "ns-blue", "veth-blue")).toBe(
      stableMac("10.1.0.2", "ns-blue", "veth-blue"),
    );
  });

  it.each([
    ["another name", ["10.1.0.2", "ns-blue", "veth-green"]],
    ["another namespace", ["10.1.0.2", "ns-green", "veth-blue"]],
    ["the host's own namespace", ["10.1.0.2", undefined, "veth-blue"]],
    ["another host", ["10.1.0.3", "ns-blue", "veth-blue"]],
  ] as const)("differs for %s", (_label, [host, ns, name]) => {
    expect(stableMac(host, ns, name)).not.toBe(stableMac("10.1.0.2", "ns-blue", "veth-blue"));
  });

  it("is a locally administered unicast address in ip's notation", () => {
    for (const name of ["br0", "veth-blue", "a", "x".repeat(15)]) {
      const mac = stableMac("h", "ns", name);
      expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      const first = parseInt(mac.slice(0, 2), 16);
      expect(first & 0x01).toBe(0); // unicast
      expect(first & 0x02).toBe(2); // locally administered
    }
  });
});
