import { describe, expect, it } from "vitest";
import {
  type VxlanInputs,
  type VxlanOutputs,
  derivedMtu,
  planRemoteAdd,
  planRemoteChanges,
  planRemoteDelete,
  remotesOf,
  vxlanKind,
  vxlanTypeWords,
} from "../../../provider/resources/vxlan";
import {
  type FdbEntry,
  type HostReader,
  fdbShowArgv,
  parseLinkDetails,
} from "../../../provider/host/reader";
import { parseJsonList } from "../../../provider/host/ip";
import { CONNECTION, UNKNOWN, inputsFor, labelled } from "../support";

const inputs = inputsFor<VxlanInputs>("ew", {
  name: "vx-ew",
  vni: 42,
  remotes: ["10.213.0.3", "10.213.0.4"],
  local: "10.213.0.2",
  bridge: "br0",
});

/** `ip -json -details addr show dev vx1` on this kernel (iproute2 6.1): a vxlan with local and dev. */
const RECORDED_LINK = JSON.stringify([
  {
    ifindex: 4,
    ifname: "vx-ew",
    flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
    mtu: 1450,
    operstate: "UNKNOWN",
    master: "br0",
    address: "ae:ba:78:29:62:01",
    linkinfo: {
      info_kind: "vxlan",
      info_data: {
        id: 42,
        local: "10.213.0.2",
        link: "eth0",
        port_range: { low: 0, high: 0 },
        port: 4789,
        learning: true,
        ttl: 0,
        df: "unset",
        ageing: 300,
        udp_csum: true,
        udp_zero_csum6_tx: false,
        udp_zero_csum6_rx: false,
      },
      info_slave_kind: "bridge",
    },
    addr_info: [],
  },
]);

/**
 * `bridge -json fdb show dev vx-ew` on this kernel: the bridge's own entry
 * for the port (master), a MAC learned behind a remote, and two remotes.
 */
const RECORDED_FDB = JSON.stringify([
  { mac: "ae:ba:78:29:62:01", flags: [], master: "br0", state: "permanent" },
  { mac: "aa:bb:cc:00:00:01", dst: "10.213.0.3", flags: ["self"], state: "" },
  { mac: "00:00:00:00:00:00", dst: "10.213.0.3", flags: ["self"], state: "permanent" },
  { mac: "00:00:00:00:00:00", dst: "10.213.0.4", flags: ["self"], state: "permanent" },
]);

/** `bridge -json fdb show dev vx-mc` for a vxlan with `group 239.1.1.1 dev eth0`. */
const RECORDED_GROUP_FDB = JSON.stringify([
  {
    mac: "00:00:00:00:00:00",
    dst: "239.1.1.1",
    viaIf: "eth0",
    flags: ["self"],
    state: "permanent",
  },
]);

describe("vxlanKind.check", () => {
  it("applies the defaults: port 4789, no addresses", () => {
    const { inputs: out, failures } = vxlanKind.check(undefined, inputs());
    expect(failures).toEqual([]);
    expect(out).toMatchObject({ name: "vx-ew", autoNamed: false, port: 4789, addresses: [] });
  });

  it("keeps no remotes as an empty list: a segment of one", () => {
    const { inputs: out, failures } = vxlanKind.check(undefined, inputs({ remotes: undefined }));
    expect(failures).toEqual([]);
    expect(out.remotes).toEqual([]);
  });

  it("names an unnamed device within 15 bytes, after its resource", () => {
    const { inputs: out, failures } = vxlanKind.check(
      undefined,
      inputs({ name: undefined, resourceName: "a-long-segment-name" }),
    );
    expect(failures).toEqual([]);
    expect(out.autoNamed).toBe(true);
    expect(Buffer.byteLength(out.name)).toBeLessThanOrEqual(15);
  });

  it("lets remotes not known yet through (a VM's address during preview)", () => {
    const { inputs: out, failures } = vxlanKind.check(
      undefined,
      inputs({ remotes: ["10.213.0.3", UNKNOWN], local: UNKNOWN }),
    );
    expect(failures).toEqual([]);
    expect(out.remotes).toEqual(["10.213.0.3", UNKNOWN]);
  });

  it.each(
    labelled([
      { label: "a VNI of 0", over: { vni: 0 }, property: "vni" },
      { label: "a VNI of 16777216", over: { vni: 16777216 }, property: "vni" },
      { label: "no VNI", over: { vni: undefined }, property: "vni" },
      {
        label: "a remote equal to local",
        over: { remotes: ["10.213.0.2"] },
        property: "remotes[0]",
      },
      {
        label: "a repeated remote",
        over: { remotes: ["10.213.0.3", "10.213.0.3"] },
        property: "remotes[1]",
      },
      {
        label: "remotes and a group",
        over: { group: "239.1.1.1", device: "eth0" },
        property: "group",
      },
      {
        label: "a group without a device",
        over: { remotes: [], group: "239.1.1.1" },
        property: "device",
      },
      { label: "a bad address", over: { addresses: ["10.77.0.0/24"] }, property: "addresses[0]" },
      { label: "a port of 0", over: { port: 0 }, property: "port" },
    ]),
  )("refuses %s, naming the field", (_label, { over, property }) => {
    const { failures } = vxlanKind.check(undefined, inputs(over));
    expect(failures.map((f) => f.property)).toEqual([property]);
  });
});

describe("vxlanKind.diff", () => {
  const olds = vxlanKind.check(undefined, inputs()).inputs as VxlanOutputs;
  it.each(
    labelled([
      { label: "no change for the same inputs", over: {}, diff: { changes: false, replaces: [] } },
      {
        label: "an update for a remote added",
        over: { remotes: ["10.213.0.3", "10.213.0.4", "10.213.0.5"] },
        diff: { changes: true, replaces: [] },
      },
      {
        label: "an update for a remote removed",
        over: { remotes: ["10.213.0.3"] },
        diff: { changes: true, replaces: [] },
      },
      {
        label: "an update for the MTU",
        over: { mtu: 1400 },
        diff: { changes: true, replaces: [] },
      },
      {
        label: "an update for addresses",
        over: { addresses: ["10.77.0.1/24"] },
        diff: { changes: true, replaces: [] },
      },
      {
        label: "an update for the bridge",
        over: { bridge: "br1" },
        diff: { changes: true, replaces: [] },
      },
      {
        label: "a replacement for the VNI",
        over: { vni: 43 },
        diff: { changes: true, replaces: ["vni"] },
      },
      {
        label: "a replacement for the port",
        over: { port: 8472 },
        diff: { changes: true, replaces: ["port"] },
      },
      {
        label: "a replacement for local",
        over: { local: "10.213.0.9" },
        diff: { changes: true, replaces: ["local"] },
      },
      {
        label: "a replacement for the device",
        over: { device: "eth1" },
        diff: { changes: true, replaces: ["device"] },
      },
      {
        label: "a replacement for a group instead of remotes",
        over: { remotes: [], group: "239.1.1.1", device: "eth0" },
        diff: { changes: true, replaces: ["group", "device"] },
      },
      {
        label: "a replacement for the namespace",
        over: { namespace: "r1" },
        diff: { changes: true, replaces: ["namespace"] },
      },
    ]),
  )("gives %s", (_label, { over, diff }) => {
    const news = vxlanKind.check(olds, inputs(over)).inputs;
    // A replacement that keeps the name deletes first: the kernel holds a name once.
    expect(vxlanKind.diff(olds, news)).toEqual({
      ...diff,
      deleteBeforeReplace: diff.replaces.length > 0,
    });
  });

  // The kernel holds a VNI on a port once per namespace: a second device with both is
  // refused ("A VXLAN device with the specified VNI already exists"), whatever its name.
  it.each(
    labelled([
      { label: "a new name alone (a rename)", over: { name: "vx-new" }, first: true },
      {
        label: "a new name with the port given as the default",
        over: { name: "vx-new", port: 4789 },
        first: true,
      },
      {
        label: "a new name whose VNI is not known yet",
        over: { name: "vx-new", vni: UNKNOWN },
        first: true,
      },
      { label: "a new name and VNI", over: { name: "vx-new", vni: 43 }, first: false },
      { label: "a new name and port", over: { name: "vx-new", port: 8472 }, first: false },
      {
        label: "a new name and namespace",
        over: { name: "vx-new", namespace: "r1" },
        first: false,
      },
    ]),
  )("replaces for %s, deleting first only where VNI, port and namespace stay", (_l, c) => {
    const news = vxlanKind.check(olds, inputs(c.over)).inputs;
    const d = vxlanKind.diff(olds, news);
    expect(d.replaces[0]).toBe("name");
    expect(d.deleteBeforeReplace).toBe(c.first);
  });

  it("deletes first for a rename of a state recorded without a port", () => {
    const { port: _port, ...noPort } = olds;
    const news = vxlanKind.check(olds, inputs({ name: "vx-new" })).inputs;
    expect(vxlanKind.diff(noPort as VxlanOutputs, news).deleteBeforeReplace).toBe(true);
  });

  it("sees no change where an omitted port meets the default", () => {
    const { port: _port, ...noPort } = olds;
    expect(vxlanKind.diff(noPort as VxlanOutputs, olds).changes).toBe(false);
  });
});

describe("the VXLAN plans", () => {
  it("adds the device with its id, local, device and port", () => {
    const plain = vxlanKind.check(undefined, inputs({ device: "eth0", port: 8472 }));
    expect(vxlanTypeWords(plain.inputs)).toEqual([
      "id",
      "42",
      "local",
      "10.213.0.2",
      "dev",
      "eth0",
      "dstport",
      "8472",
    ]);
    const checked = vxlanKind.check(
      undefined,
      inputs({ group: "239.1.1.1", remotes: [], device: "eth0" }),
    );
    expect(vxlanTypeWords(checked.inputs)).toEqual([
      "id",
      "42",
      "local",
      "10.213.0.2",
      "group",
      "239.1.1.1",
      "dev",
      "eth0",
      "dstport",
      "4789",
    ]);
  });

  it("keeps each remote as an all-zero forwarding entry, appended", () => {
    expect(planRemoteAdd(undefined, "vx0", "10.213.0.3")).toEqual([
      "bridge",
      "fdb",
      "append",
      "00:00:00:00:00:00",
      "dev",
      "vx0",
      "dst",
      "10.213.0.3",
    ]);
    expect(planRemoteDelete("r1", "vx0", "10.213.0.3")).toEqual([
      "bridge",
      "-n",
      "r1",
      "fdb",
      "del",
      "00:00:00:00:00:00",
      "dev",
      "vx0",
      "dst",
      "10.213.0.3",
    ]);
  });

  it("changes only the remotes added and removed, removals first", () => {
    const plan = planRemoteChanges(
      undefined,
      "vx0",
      ["10.0.0.1", "10.0.0.2"],
      ["10.0.0.2", "10.0.0.3"],
    );
    expect(plan.map((argv) => `${argv[2]} ${argv.at(-1)}`)).toEqual([
      "del 10.0.0.1",
      "append 10.0.0.3",
    ]);
  });

  it("reads the forwarding database in the device's namespace", () => {
    expect(fdbShowArgv("r1", "vx0")).toEqual([
      "bridge",
      "-n",
      "r1",
      "-json",
      "fdb",
      "show",
      "dev",
      "vx0",
    ]);
  });

  it.each(
    labelled([
      { label: "a 1500-byte underlay", underlay: 1500, mtu: 1450 },
      { label: "a jumbo underlay", underlay: 9000, mtu: 8950 },
      { label: "an unknown underlay", underlay: undefined, mtu: 1450 },
      { label: "a tiny underlay", underlay: 100, mtu: 68 },
    ]),
  )("derives the MTU over %s", (_label, { underlay, mtu }) => {
    expect(derivedMtu(underlay)).toBe(mtu);
  });
});

describe("remotesOf", () => {
  it("finds the remotes in a recorded forwarding database, not the learned or the bridge's entries", () => {
    expect(remotesOf(parseJsonList<FdbEntry>(RECORDED_FDB))).toEqual(["10.213.0.3", "10.213.0.4"]);
  });

  it("leaves a multicast group's own entry out", () => {
    expect(remotesOf(parseJsonList<FdbEntry>(RECORDED_GROUP_FDB), "239.1.1.1")).toEqual([]);
  });

  it("reads nothing from an empty database (iproute2 prints nothing)", () => {
    expect(remotesOf(parseJsonList<FdbEntry>(""))).toEqual([]);
  });
});

describe("vxlanKind.read", () => {
  const props = {
    ...vxlanKind.check(undefined, inputs({ device: "eth0" })).inputs,
    effectiveMtu: 1450,
  };
  const reader = (link: string, fdb: string | undefined): HostReader =>
    ({
      name: "h1",
      link: async () => parseLinkDetails(link),
      fdb: async () => (fdb === undefined ? undefined : parseJsonList<FdbEntry>(fdb)),
    }) as unknown as HostReader;

  it("reads a recorded device back unchanged: no drift", async () => {
    expect(await vxlanKind.read(reader(RECORDED_LINK, RECORDED_FDB), "/vx-ew", props)).toEqual(
      props,
    );
  });

  it("reports a remote deleted out of band", async () => {
    const fdb = JSON.stringify(JSON.parse(RECORDED_FDB).slice(0, 3));
    const outs = await vxlanKind.read(reader(RECORDED_LINK, fdb), "/vx-ew", props);
    expect(outs?.remotes).toEqual(["10.213.0.3"]);
    expect(vxlanKind.diff(outs!, props)).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
  });

  it("reports a device made anew with another VNI as a replacement", async () => {
    const link = RECORDED_LINK.replace('"id":42', '"id":7');
    const outs = await vxlanKind.read(reader(link, RECORDED_FDB), "/vx-ew", props);
    expect(vxlanKind.diff(outs!, props).replaces).toEqual(["vni"]);
  });

  it("reports a device gone, or become another kind, as gone", async () => {
    expect(await vxlanKind.read(reader("", undefined), "/vx-ew", props)).toBeUndefined();
    const bridge = RECORDED_LINK.replace('"info_kind":"vxlan"', '"info_kind":"bridge"');
    expect(await vxlanKind.read(reader(bridge, "[]"), "/vx-ew", props)).toBeUndefined();
  });

  it("keeps the connection it was given", async () => {
    const outs = await vxlanKind.read(reader(RECORDED_LINK, RECORDED_FDB), "/vx-ew", props);
    expect(outs?.connection).toEqual(CONNECTION);
  });
});
