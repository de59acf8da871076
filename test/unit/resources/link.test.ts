import { stableMac } from "../../../provider/resources/link";
import { describe, expect, it } from "vitest";
import {
  FRESH_LINK,
  type LinkSettings,
  type ObservedLink,
  createLink,
  managedView,
  planLinkAdd,
  planLinkChanges,
} from "../../../provider/resources/link";
import { type CommandResult, hostFromRun } from "../../../provider/transport";
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

describe("the link factory", () => {
  const mac = "02:00:00:00:00:01";

  it.each(
    labelled([
      {
        label: "a link in a namespace with its type's own words",
        argv: planLinkAdd("ns1", { name: "vx0", mac }, "vxlan", ["id", "42", "dstport", "4789"]),
        want: [
          "ip",
          "-n",
          "ns1",
          "link",
          "add",
          "name",
          "vx0",
          "address",
          mac,
          "type",
          "vxlan",
          "id",
          "42",
          "dstport",
          "4789",
        ],
      },
      {
        label: "a link on a parent device",
        argv: planLinkAdd(undefined, { name: "mv0", mac, parent: "eth0" }, "macvlan", [
          "mode",
          "bridge",
        ]),
        want: [
          "ip",
          "link",
          "add",
          "name",
          "mv0",
          "link",
          "eth0",
          "address",
          mac,
          "type",
          "macvlan",
          "mode",
          "bridge",
        ],
      },
      {
        label: "a link added straight into a namespace, with an MTU",
        argv: planLinkAdd(undefined, { name: "v0", mac, netns: "ns2", mtu: 1400 }, "veth"),
        want: [
          "ip",
          "link",
          "add",
          "name",
          "v0",
          "address",
          mac,
          "netns",
          "ns2",
          "mtu",
          "1400",
          "type",
          "veth",
        ],
      },
    ]),
  )("adds %s", (_label, { argv, want }) => {
    expect(argv).toEqual(want);
  });

  /** A host that answers each step from `answer`, and records what ran. */
  function fakeHost(answer: (argv: readonly string[]) => CommandResult) {
    const ran: string[] = [];
    const run = async (argv: readonly string[]) => {
      ran.push(argv.join(" "));
      return answer(argv);
    };
    return { host: hostFromRun("h1", run), ran };
  }
  const ok = (stdout = ""): CommandResult => ({ stdout, stderr: "", exitCode: 0 });
  const details = (kind: string | undefined, data?: Record<string, unknown>) =>
    JSON.stringify([
      {
        ifname: "vx0",
        flags: ["UP"],
        mtu: 1450,
        operstate: "UNKNOWN",
        linkinfo: kind ? { info_kind: kind, ...(data ? { info_data: data } : {}) } : undefined,
        addr_info: [],
      },
    ]);
  const spec = {
    host: "10.1.0.2",
    namespace: "ns1",
    name: "vx0",
    type: "vxlan",
    typeWords: ["id", "42"],
    settings: { addresses: [], up: true },
    mark: "linuxnet:p/s/Vxlan/vx",
  };

  it("adds, announces, applies the settings and reads back, with the type's own data", async () => {
    const { host, ran } = fakeHost((argv) =>
      argv.includes("show") ? ok(details("vxlan", { id: 42, gc_timer: 1.5 })) : ok(),
    );
    const seen = await createLink(host, spec);
    expect(ran[0]).toMatch(/^ip -n ns1 link add name vx0 address \S+ type vxlan id 42$/);
    // Marked in the same round trip, so an interrupted create leaves a marked link.
    expect(ran[1]).toBe("ip -n ns1 link set dev vx0 alias linuxnet:p/s/Vxlan/vx");
    expect(ran.at(-1)).toBe("ip -n ns1 -json -details addr show dev vx0");
    // The type's settings, without its running timers.
    expect(seen.data).toEqual({ id: 42 });
  });

  it("deletes the link again when a later step fails, and says which step", async () => {
    const { host, ran } = fakeHost((argv) =>
      argv.includes("up") ? { stdout: "", stderr: "RTNETLINK answers: nope", exitCode: 2 } : ok(),
    );
    await expect(createLink(host, spec)).rejects.toThrow(/link set dev vx0 up.*nope/);
    expect(ran.at(-1)).toBe("ip -n ns1 link del dev vx0");
  });

  it("says whose a name is when it is taken by a link of another type", async () => {
    const { host } = fakeHost((argv) =>
      argv.includes("add")
        ? { stdout: "", stderr: "RTNETLINK answers: File exists", exitCode: 2 }
        : ok(details("bridge")),
    );
    await expect(createLink(host, spec)).rejects.toThrow(
      /"vx0" already exists but is not a vxlan \(it is a bridge link\)/,
    );
  });

  it("refuses a link that reads back as another type", async () => {
    const { host } = fakeHost((argv) => (argv.includes("show") ? ok(details("dummy")) : ok()));
    await expect(createLink(host, spec)).rejects.toThrow(
      /"vx0" was created but reads back as a dummy link/,
    );
  });
});
