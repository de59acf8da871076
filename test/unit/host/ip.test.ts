import { describe, expect, it } from "vitest";
import {
  type AddrState,
  type LinkState,
  configuredAddresses,
  inNamespace,
  ipArgv,
  isLinkAbsent,
  isUp,
  parseJsonList,
  planAddressChanges,
} from "../../../provider/host/ip";
import { labelled } from "../support";

describe("ipArgv", () => {
  it.each(
    labelled([
      { label: "on the host", ns: undefined, argv: ["ip", "link", "show"] },
      { label: "in a namespace", ns: "blue", argv: ["ip", "-n", "blue", "link", "show"] },
      { label: "with an empty namespace, as on the host", ns: "", argv: ["ip", "link", "show"] },
    ]),
  )("builds ip %s", (_label, { ns, argv }) => {
    expect(ipArgv(ns, "link", "show")).toEqual(argv);
  });
});

describe("inNamespace", () => {
  it.each(
    labelled([
      { label: "leaves a command on the host as it is", ns: undefined, argv: ["cat", "/x"] },
      {
        label: "runs a command in a namespace through ip netns exec",
        ns: "blue",
        argv: ["ip", "netns", "exec", "blue", "cat", "/x"],
      },
    ]),
  )("%s", (_label, { ns, argv }) => {
    expect(inNamespace(ns, ["cat", "/x"])).toEqual(argv);
  });
});

describe("parseJsonList", () => {
  it.each(
    labelled([
      { label: "no output at all", stdout: "", list: [] },
      { label: "only a newline", stdout: "\n", list: [] },
      { label: "white space", stdout: "  \n\t", list: [] },
      { label: "an empty JSON list", stdout: "[]\n", list: [] },
      {
        label: "a list of namespaces",
        stdout: '[{"name":"blue"},{"name":"red","id":0}]\n',
        list: [{ name: "blue" }, { name: "red", id: 0 }],
      },
    ]),
  )("parses %s", (_label, { stdout, list }) => {
    expect(parseJsonList(stdout)).toEqual(list);
  });

  it("throws on output that is not JSON", () => {
    expect(() => parseJsonList('Object "foo" is unknown')).toThrow();
  });
});

describe("configuredAddresses", () => {
  const info: AddrState[] = [
    { family: "inet", local: "10.0.0.1", prefixlen: 24, scope: "global" },
    { family: "inet6", local: "fd00::1", prefixlen: 64, scope: "global" },
    { family: "inet6", local: "fe80::a8c1:abff:fe00:1", prefixlen: 64, scope: "link" },
    { family: "inet", local: "169.254.1.1", prefixlen: 16, scope: "link" },
    { family: "inet", local: "127.0.0.1", prefixlen: 8, scope: "host" },
  ];

  it("drops the kernel's IPv6 link-local addresses and keeps the rest in order", () => {
    expect(configuredAddresses(info)).toEqual([
      "10.0.0.1/24",
      "fd00::1/64",
      "169.254.1.1/16",
      "127.0.0.1/8",
    ]);
  });

  it("gives an empty list for a link without addresses", () => {
    expect(configuredAddresses([])).toEqual([]);
  });

  it("reads the addr_info of real ip -json addr output", () => {
    const stdout = JSON.stringify([
      {
        ifindex: 4,
        ifname: "br0",
        flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
        mtu: 1500,
        addr_info: [
          {
            family: "inet",
            local: "10.0.0.254",
            prefixlen: 24,
            broadcast: "10.0.0.255",
            scope: "global",
            label: "br0",
          },
          { family: "inet6", local: "fe80::1c2d:3eff:fe4f:5a6b", prefixlen: 64, scope: "link" },
        ],
      },
    ]);
    const [link] = parseJsonList<{ addr_info: AddrState[] }>(stdout);
    expect(configuredAddresses(link!.addr_info)).toEqual(["10.0.0.254/24"]);
  });
});

describe("isUp", () => {
  const link = (flags: string[]): LinkState => ({
    ifname: "x",
    flags,
    mtu: 1500,
    operstate: "UNKNOWN",
  });
  it.each(
    labelled([
      { label: "a link with the UP flag", flags: ["BROADCAST", "UP", "LOWER_UP"], up: true },
      { label: "a link without it", flags: ["BROADCAST", "MULTICAST"], up: false },
      {
        label: "a link that is up but has no carrier",
        flags: ["NO-CARRIER", "BROADCAST", "UP"],
        up: true,
      },
    ]),
  )("tells whether %s is up", (_label, { flags, up }) => {
    expect(isUp(link(flags))).toBe(up);
  });
});

describe("planAddressChanges", () => {
  it("deletes before it adds, so a moved address never exists twice", () => {
    expect(
      planAddressChanges(
        "blue",
        "eth0",
        ["10.0.0.1/24", "10.0.1.1/24"],
        ["10.0.1.1/24", "10.0.0.1/16"],
      ),
    ).toEqual([
      ["ip", "-n", "blue", "addr", "del", "10.0.0.1/24", "dev", "eth0"],
      ["ip", "-n", "blue", "addr", "add", "10.0.0.1/16", "dev", "eth0"],
    ]);
  });

  it.each(
    labelled([
      {
        label: "nothing when both lists agree",
        have: ["10.0.0.1/24"],
        want: ["10.0.0.1/24"],
        plan: [],
      },
      {
        label: "nothing when the order alone differs",
        have: ["a/1", "b/2"],
        want: ["b/2", "a/1"],
        plan: [],
      },
      {
        label: "only additions on a fresh link",
        have: [],
        want: ["10.0.0.1/24", "fd00::1/64"],
        plan: [
          ["ip", "addr", "add", "10.0.0.1/24", "dev", "br0"],
          ["ip", "addr", "add", "fd00::1/64", "dev", "br0"],
        ],
      },
      {
        label: "only deletions when all go",
        have: ["10.0.0.1/24", "fd00::1/64"],
        want: [],
        plan: [
          ["ip", "addr", "del", "10.0.0.1/24", "dev", "br0"],
          ["ip", "addr", "del", "fd00::1/64", "dev", "br0"],
        ],
      },
      {
        label: "every deletion before any addition",
        have: ["10.0.0.1/24", "10.0.0.2/24"],
        want: ["10.0.0.3/24", "10.0.0.4/24"],
        plan: [
          ["ip", "addr", "del", "10.0.0.1/24", "dev", "br0"],
          ["ip", "addr", "del", "10.0.0.2/24", "dev", "br0"],
          ["ip", "addr", "add", "10.0.0.3/24", "dev", "br0"],
          ["ip", "addr", "add", "10.0.0.4/24", "dev", "br0"],
        ],
      },
    ]),
  )("plans %s", (_label, { have, want, plan }) => {
    expect(planAddressChanges(undefined, "br0", have, want)).toEqual(plan);
  });
});

describe("isLinkAbsent", () => {
  it.each(
    labelled([
      {
        label: "a missing device (ip link show)",
        stderr: 'Device "veth9" does not exist.\n',
        absent: true,
      },
      {
        label: "a missing device (ip link set)",
        stderr: 'Cannot find device "veth9"\n',
        absent: true,
      },
      {
        label: "a missing namespace",
        stderr: 'Cannot open network namespace "blue": No such file or directory\n',
        absent: true,
      },
      { label: "an existing link", stderr: "RTNETLINK answers: File exists\n", absent: false },
      {
        label: "a permission problem",
        stderr: "RTNETLINK answers: Operation not permitted\n",
        absent: false,
      },
      { label: "no words at all", stderr: "", absent: false },
    ]),
  )("tells %s", (_label, { stderr, absent }) => {
    expect(isLinkAbsent(stderr)).toBe(absent);
  });
});
