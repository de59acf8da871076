import { describe, expect, it } from "vitest";
import {
  refuseOwnSshPort,
  type PortForwardInputs,
  type PortForwardOutputs,
  connectedNetworkOf,
  mappingOf,
  parseHostPort,
  parseTarget,
  portForwardKind,
} from "../../../provider/resources/portforward";
import {
  dnatSpec,
  hairpinSpec,
  ownedPortRule,
  planDnat,
} from "../../../provider/firewall/iptables";
import { parseTaggedRules } from "../../../provider/host/iptables";
import { inputsFor, labelled } from "../support";

const inputs = inputsFor<PortForwardInputs>("web", { hostPort: 8080, to: "10.0.0.2:80" });
const checked = (over: Record<string, unknown> = {}) => {
  const { inputs: out, failures } = portForwardKind.check(undefined, inputs(over));
  expect(failures).toEqual([]);
  return out;
};
const TAG = "linuxnet:pf-1:fwd";

describe("parseHostPort", () => {
  it.each(
    labelled([
      { label: "a port", value: 8080, ports: [8080, 8080] },
      { label: "a port as a string", value: "8080", ports: [8080, 8080] },
      { label: "a range", value: "8000-8010", ports: [8000, 8010] },
      { label: "a range of one", value: "8000-8000", ports: [8000, 8000] },
      { label: "the ends", value: "1-65535", ports: [1, 65535] },
    ]),
  )("reads %s", (_label, { value, ports }) => {
    expect(parseHostPort(value)).toEqual(ports);
  });

  it.each([0, 65536, -1, 1.5, "8010-8000", "8000:8010", "80 x", "", "0-5", Number.NaN, null])(
    "refuses %s",
    (value) => {
      expect(typeof parseHostPort(value)).toBe("string");
    },
  );
});

describe("parseTarget", () => {
  it("reads an address and a port", () => {
    expect(parseTarget("10.0.0.2:80")).toEqual({ address: "10.0.0.2", port: 80 });
  });
  it.each(
    labelled([
      { label: "no port", value: "10.0.0.2", why: /must have a port/ },
      { label: "port 0", value: "10.0.0.2:0", why: /port from 1 to 65535/ },
      { label: "an empty port", value: "10.0.0.2:", why: /port from 1 to 65535/ },
      { label: "IPv6", value: "fd00::2:80", why: /IPv4/ },
      { label: "loopback", value: "127.0.0.1:80", why: /loopback/ },
      { label: "a name", value: "web:80", why: /IP address/ },
      { label: "a short dotted form", value: "10.2:80", why: /dotted-quad/ },
    ]),
  )("refuses %s", (_label, { value, why }) => {
    expect(parseTarget(value)).toMatch(why);
  });
});

describe("portForwardKind.check", () => {
  it("defaults to TCP, no fromHost, forwarding on", () => {
    expect(checked()).toMatchObject({ protocol: "tcp", fromHost: false, forwarding: true });
  });

  it.each(
    labelled([
      { label: "a port given as a string becomes a number", hostPort: "8080", want: 8080 },
      { label: "a range of one becomes its port", hostPort: "8080-8080", want: 8080 },
      { label: "a range stays a range", hostPort: "8000-8010", want: "8000-8010" },
    ]),
  )("normalises hostPort: %s", (_label, { hostPort, want }) => {
    expect(checked({ hostPort }).hostPort).toBe(want);
  });

  it("refuses a range whose target ports would pass 65535, naming `to`", () => {
    const { failures } = portForwardKind.check(
      undefined,
      inputs({ hostPort: "8000-8010", to: "10.0.0.2:65530" }),
    );
    expect(failures).toEqual([{ property: "to", reason: expect.stringMatching(/past 65535/) }]);
  });
});

describe("portForwardKind.diff", () => {
  const state: PortForwardOutputs = {
    ...checked(),
    tag: TAG,
    rulesIntact: true,
  };
  it.each(
    labelled([
      { label: "the same inputs", over: {}, replaces: [], changes: false },
      { label: "another port", over: { hostPort: 8081 }, replaces: ["hostPort"], changes: true },
      { label: "another target", over: { to: "10.0.0.3:80" }, replaces: ["to"], changes: true },
      { label: "udp", over: { protocol: "udp" }, replaces: ["protocol"], changes: true },
      { label: "fromHost", over: { fromHost: true }, replaces: ["fromHost"], changes: true },
      {
        label: "an interface",
        over: { inInterface: "eth0" },
        replaces: ["inInterface"],
        changes: true,
      },
    ]),
  )("replaces on %s, new rules before the old go", (_label, { over, replaces, changes }) => {
    const d = portForwardKind.diff(state, portForwardKind.check(state, inputs(over)).inputs);
    expect(d).toEqual({ changes, replaces, deleteBeforeReplace: false });
  });

  it("asks for an update when a refresh found rules missing", () => {
    const d = portForwardKind.diff({ ...state, rulesIntact: false }, checked());
    expect(d).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });
});

/** Rules exactly as `iptables -S` printed them on this kernel (iptables 1.8.9, nf_tables). */
const PRINTED = [
  `-A PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8000:8010 -m comment --comment "${TAG}" -j DNAT --to-destination 10.0.0.2:80-90/8000`,
  `-A PREROUTING -i eth0 -p udp -m addrtype --dst-type LOCAL -m udp --dport 53 -m comment --comment "${TAG}" -j DNAT --to-destination 10.0.0.2:5353`,
  `-A OUTPUT ! -d 127.0.0.0/8 -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8080 -m comment --comment "${TAG}" -j DNAT --to-destination 10.0.0.2:80`,
  `-A POSTROUTING -s 10.0.0.0/24 -d 10.0.0.2/32 -p tcp -m tcp --dport 80:90 -m conntrack --ctstate DNAT -m comment --comment "${TAG}" -j MASQUERADE`,
];

describe("the port forward's iptables rules", () => {
  const range = mappingOf(checked({ hostPort: "8000-8010" }));
  const udp = mappingOf(
    checked({ protocol: "udp", hostPort: 53, to: "10.0.0.2:5353", inInterface: "eth0" }),
  );
  const one = mappingOf(checked());

  it.each(
    labelled([
      {
        label: "a range, incoming, as a shifted port map",
        spec: dnatSpec(range, "incoming", TAG),
        line: PRINTED[0]!,
      },
      { label: "udp on one interface", spec: dnatSpec(udp, "incoming", TAG), line: PRINTED[1]! },
      {
        label: "the host's own traffic, not loopback",
        spec: dnatSpec(one, "local", TAG),
        line: PRINTED[2]!,
      },
      {
        label: "the hairpin masquerade of a range",
        spec: hairpinSpec(range, "10.0.0.0/24", TAG),
        line: PRINTED[3]!,
      },
    ]),
  )("writes %s in the order iptables -S prints it back", (_label, { spec, line }) => {
    expect(parseTaggedRules(line)[0]!.spec).toEqual(spec);
  });

  it("appends the host's own traffic to OUTPUT and leaves the interface out there", () => {
    const argv = planDnat("ns-r", udp, "local", TAG);
    expect(argv.slice(0, 10)).toEqual([
      "ip",
      "netns",
      "exec",
      "ns-r",
      "iptables",
      "-w",
      "-t",
      "nat",
      "-A",
      "OUTPUT",
    ]);
    expect(argv).not.toContain("-i");
  });

  it.each(
    labelled([
      {
        label: "a range",
        line: PRINTED[0]!,
        rule: { hook: "incoming", protocol: "tcp", hostPort: "8000-8010", to: "10.0.0.2:80" },
      },
      {
        label: "an interface",
        line: PRINTED[1]!,
        rule: {
          hook: "incoming",
          protocol: "udp",
          inInterface: "eth0",
          hostPort: "53",
          to: "10.0.0.2:5353",
        },
      },
      {
        label: "the host's own",
        line: PRINTED[2]!,
        rule: { hook: "local", protocol: "tcp", hostPort: "8080", to: "10.0.0.2:80" },
      },
      {
        label: "the hairpin",
        line: PRINTED[3]!,
        rule: { hook: "hairpin", protocol: "tcp", source: "10.0.0.0/24" },
      },
    ]),
  )("reads back %s", (_label, { line, rule }) => {
    expect(ownedPortRule(parseTaggedRules(line)[0]!)).toEqual({ tag: TAG, ...rule });
  });

  it("reads a NatRule's masquerade as no port rule", () => {
    const line = `-A POSTROUTING -s 10.0.0.0/24 -o eth0 -m comment --comment "linuxnet:nat-1" -j MASQUERADE`;
    expect(ownedPortRule(parseTaggedRules(line)[0]!)).toBeUndefined();
  });
});

describe("connectedNetworkOf", () => {
  const routes = [
    { dst: "default", gateway: "10.213.0.1" },
    { dst: "10.0.0.0/16", gateway: "10.213.0.9" },
    { dst: "10.0.0.0/24" },
    { dst: "10.0.0.0/25" },
    { dst: "10.213.0.0/24" },
    { dst: "10.9.9.9" },
  ];
  it.each(
    labelled([
      { label: "the longest connected network", address: "10.0.0.2", net: "10.0.0.0/25" },
      { label: "a connected network", address: "10.0.0.200", net: "10.0.0.0/24" },
      { label: "none behind a gateway", address: "10.0.5.1", net: undefined },
      { label: "none for a host route", address: "10.9.9.9", net: undefined },
    ]),
  )("finds %s", (_label, { address, net }) => {
    expect(connectedNetworkOf(routes, address)).toBe(net);
  });
});

describe("refuseOwnSshPort", () => {
  const forward = (extra: Record<string, unknown>) =>
    ({
      connection: { host: "10.1.0.2" },
      protocol: "tcp",
      hostPort: 8080,
      to: "10.0.0.2:80",
      fromHost: false,
      forwarding: true,
      ...extra,
    }) as unknown as Parameters<typeof refuseOwnSshPort>[0];

  it.each(
    labelled([
      { label: "port 22 on the host", extra: { hostPort: 22 } },
      { label: "a range holding 22", extra: { hostPort: "20-30" } },
      {
        label: "the connection's own port",
        extra: { connection: { host: "h", port: 2222 }, hostPort: 2222 },
      },
    ]),
  )("refuses %s, naming hostPort and the way out", (_label, { extra }) => {
    expect(() => refuseOwnSshPort(forward(extra))).toThrow(
      /^hostPort: holds \d+, the SSH port this provider reaches the host on.*give inInterface, a namespace, or another port$/,
    );
  });

  it.each(
    labelled([
      { label: "another port", extra: { hostPort: 2222 } },
      { label: "port 22 inside a namespace", extra: { hostPort: 22, namespace: "ns" } },
      { label: "port 22 on one interface", extra: { hostPort: 22, inInterface: "eth1" } },
      { label: "port 22 over UDP", extra: { hostPort: 22, protocol: "udp" } },
      {
        label: "22 when the connection uses another port",
        extra: { connection: { host: "h", port: 2222 }, hostPort: 22 },
      },
    ]),
  )("lets %s through", (_label, { extra }) => {
    expect(() => refuseOwnSshPort(forward(extra))).not.toThrow();
  });
});
