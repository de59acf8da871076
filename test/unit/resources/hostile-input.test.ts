/**
 * Hostile input, across every kind and field: each row must be refused by the
 * kind's `check`, naming the field. `check` has no Host and does no I/O, so a
 * refused input never becomes a command: the engine calls the dynamic
 * provider's `check` first and stops before `create` when it returns
 * failures. The rows are run both through the kind itself and through the
 * runtime's `handler(name).check`, the very function the engine calls; and the
 * transport's counters prove that no SSH connection, channel or command was
 * opened while they ran.
 */

import { afterAll, describe, expect, it } from "vitest";
import type { ValidationFailure } from "../../../provider/errors";
import type { BaseInputs, Kind } from "../../../provider/resources/kind";
import { type KindName, handler, kinds } from "../../../provider/runtime";
import { transportStats } from "../../../provider/transport";
import { CONNECTION, labelled } from "../support";

/** A valid input set per kind; each row changes one field of it. */
const BASE: Record<KindName, Record<string, unknown>> = {
  Namespace: { name: "ns-blue" },
  Bridge: { name: "br0", namespace: "r1", addresses: ["10.0.0.254/24"], mtu: 1500 },
  VethPair: {
    a: { name: "veth-a", namespace: "ns-blue", addresses: ["10.0.0.1/24"] },
    b: { name: "veth-b", bridge: "br0" },
    mtu: 1500,
  },
  Route: { namespace: "ns-blue", destination: "10.1.0.0/16", via: "10.0.0.254", device: "veth-a" },
  NatRule: { namespace: "r1", source: "10.0.0.0/24", outInterface: "eth0" },
  ConnectivityCheck: {
    from: { namespace: "ns-blue" },
    to: { namespace: "ns-green", address: "10.0.0.2" },
  },
  LinkShaping: { namespace: "ns-blue", device: "veth-blue", rate: "10mbit", delay: "40ms" },
};

function inputsOf(kind: KindName, set: Record<string, unknown> = {}): BaseInputs {
  const inputs: Record<string, unknown> = structuredClone({
    connection: { ...CONNECTION },
    resourceName: "hostile",
    ...BASE[kind],
  });
  for (const [path, value] of Object.entries(set)) {
    const keys = path.split(".");
    let at = inputs;
    for (const key of keys.slice(0, -1)) {
      at[key] = { ...(at[key] as Record<string, unknown>) };
      at = at[key] as Record<string, unknown>;
    }
    at[keys[keys.length - 1]!] = value;
  }
  return inputs as BaseInputs;
}

function checkOf(kind: KindName): Kind<BaseInputs, BaseInputs>["check"] {
  const k = kinds[kind] as unknown as Kind<BaseInputs, BaseInputs>;
  return (olds, news) => k.check(olds, news);
}

interface Row {
  readonly label: string;
  readonly kind: KindName;
  /** Field paths and the hostile values put there. */
  readonly set: Record<string, unknown>;
  /** The field path the failure must name. */
  readonly property: string;
}

const SIXTEEN = "abcdefghijklmnop";

const ROWS: Row[] = [
  // Namespace names
  {
    label: "a namespace name with a semicolon",
    kind: "Namespace",
    set: { name: "ns;reboot" },
    property: "name",
  },
  {
    label: "a namespace name with a command substitution",
    kind: "Namespace",
    set: { name: "$(reboot)" },
    property: "name",
  },
  {
    label: "a namespace name with backticks",
    kind: "Namespace",
    set: { name: "`reboot`" },
    property: "name",
  },
  {
    label: "a namespace name with a pipe",
    kind: "Namespace",
    set: { name: "ns|sh" },
    property: "name",
  },
  {
    label: "a namespace name with &&",
    kind: "Namespace",
    set: { name: "ns&&reboot" },
    property: "name",
  },
  {
    label: "a namespace name with a redirection",
    kind: "Namespace",
    set: { name: "ns>/etc/passwd" },
    property: "name",
  },
  {
    label: "a namespace name with single quotes",
    kind: "Namespace",
    set: { name: "'ns'" },
    property: "name",
  },
  {
    label: "a namespace name with double quotes",
    kind: "Namespace",
    set: { name: '"ns"' },
    property: "name",
  },
  {
    label: "a namespace name with a newline",
    kind: "Namespace",
    set: { name: "ns\nreboot" },
    property: "name",
  },
  {
    label: "a namespace name with a tab",
    kind: "Namespace",
    set: { name: "ns\tx" },
    property: "name",
  },
  { label: "an empty namespace name", kind: "Namespace", set: { name: "" }, property: "name" },
  { label: 'the namespace name "."', kind: "Namespace", set: { name: "." }, property: "name" },
  { label: 'the namespace name ".."', kind: "Namespace", set: { name: ".." }, property: "name" },
  {
    label: "a namespace name that climbs out of /run/netns",
    kind: "Namespace",
    set: { name: "../../etc/passwd" },
    property: "name",
  },
  {
    label: "a namespace name that reads as an option",
    kind: "Namespace",
    set: { name: "-all" },
    property: "name",
  },
  {
    label: "a namespace name of 65 bytes",
    kind: "Namespace",
    set: { name: "n".repeat(65) },
    property: "name",
  },
  {
    label: "a namespace name with an emoji",
    kind: "Namespace",
    set: { name: "ns-\u{1F600}" },
    property: "name",
  },
  {
    label: "loopbackUp as a string",
    kind: "Namespace",
    set: { loopbackUp: "yes" },
    property: "loopbackUp",
  },
  // Bridge
  { label: "a bridge name of 16 bytes", kind: "Bridge", set: { name: SIXTEEN }, property: "name" },
  { label: "an empty bridge name", kind: "Bridge", set: { name: "" }, property: "name" },
  { label: 'the bridge name "."', kind: "Bridge", set: { name: "." }, property: "name" },
  { label: 'the bridge name ".."', kind: "Bridge", set: { name: ".." }, property: "name" },
  { label: "a bridge name with a slash", kind: "Bridge", set: { name: "br/0" }, property: "name" },
  { label: "a bridge name with a colon", kind: "Bridge", set: { name: "br0:1" }, property: "name" },
  {
    label: "a bridge name that reads as an option",
    kind: "Bridge",
    set: { name: "-br0" },
    property: "name",
  },
  {
    label: "a bridge name with a semicolon",
    kind: "Bridge",
    set: { name: "br0;reboot" },
    property: "name",
  },
  { label: "a bridge name with a space", kind: "Bridge", set: { name: "br 0" }, property: "name" },
  {
    label: "a bridge namespace with a command substitution",
    kind: "Bridge",
    set: { namespace: "$(reboot)" },
    property: "namespace",
  },
  {
    label: "a bridge address with prefix 33",
    kind: "Bridge",
    set: { addresses: ["10.0.0.0/33"] },
    property: "addresses[0]",
  },
  {
    label: "a bridge address with octet 256",
    kind: "Bridge",
    set: { addresses: ["10.0.0.256/24"] },
    property: "addresses[0]",
  },
  {
    label: "a bridge address of words",
    kind: "Bridge",
    set: { addresses: ["abc"] },
    property: "addresses[0]",
  },
  {
    label: "a bridge address that is its subnet's network address",
    kind: "Bridge",
    set: { addresses: ["10.0.0.0/24"] },
    property: "addresses[0]",
  },
  {
    label: "a bridge address that is its subnet's broadcast address",
    kind: "Bridge",
    set: { addresses: ["10.0.0.255/24"] },
    property: "addresses[0]",
  },
  {
    label: "a bridge address with a shell tail",
    kind: "Bridge",
    set: { addresses: ["10.0.0.1/24;reboot"] },
    property: "addresses[0]",
  },
  {
    label: "a repeated bridge address",
    kind: "Bridge",
    set: { addresses: ["10.0.0.1/24", "10.0.0.1/24"] },
    property: "addresses[1]",
  },
  {
    label: "a bridge address list that is a string",
    kind: "Bridge",
    set: { addresses: "10.0.0.1/24" },
    property: "addresses",
  },
  { label: "a huge bridge MTU", kind: "Bridge", set: { mtu: 1e9 }, property: "mtu" },
  { label: "a negative bridge MTU", kind: "Bridge", set: { mtu: -1500 }, property: "mtu" },
  { label: "a fractional bridge MTU", kind: "Bridge", set: { mtu: 1500.5 }, property: "mtu" },
  {
    label: "a bridge MTU with a shell tail",
    kind: "Bridge",
    set: { mtu: "1500; reboot" },
    property: "mtu",
  },
  { label: "bridge up as a string", kind: "Bridge", set: { up: "true" }, property: "up" },
  {
    label: "acceptForwarding as a number",
    kind: "Bridge",
    set: { acceptForwarding: 1 },
    property: "acceptForwarding",
  },
  // VethPair
  {
    label: "a veth name with a Cyrillic е",
    kind: "VethPair",
    set: { "a.name": "v\u0435th0" },
    property: "a.name",
  },
  {
    label: "a veth name with an emoji",
    kind: "VethPair",
    set: { "b.name": "veth\u{1F600}" },
    property: "b.name",
  },
  {
    label: "a veth name with backticks",
    kind: "VethPair",
    set: { "a.name": "v`id`" },
    property: "a.name",
  },
  {
    label: "a veth name of 16 bytes",
    kind: "VethPair",
    set: { "b.name": SIXTEEN },
    property: "b.name",
  },
  { label: "an empty veth name", kind: "VethPair", set: { "a.name": "" }, property: "a.name" },
  {
    label: "a veth name with a newline",
    kind: "VethPair",
    set: { "b.name": "vb\nreboot" },
    property: "b.name",
  },
  {
    label: "a veth name with a colon",
    kind: "VethPair",
    set: { "a.name": "eth0:0" },
    property: "a.name",
  },
  {
    label: "a veth namespace with a slash",
    kind: "VethPair",
    set: { "a.namespace": "../x" },
    property: "a.namespace",
  },
  {
    label: "a veth namespace that reads as an option",
    kind: "VethPair",
    set: { "b.namespace": "-n" },
    property: "b.namespace",
  },
  {
    label: "a veth bridge with a pipe",
    kind: "VethPair",
    set: { "b.bridge": "br0|x" },
    property: "b.bridge",
  },
  {
    label: "a veth address that is the network address",
    kind: "VethPair",
    set: { "a.addresses": ["10.0.0.0/24"] },
    property: "a.addresses[0]",
  },
  {
    label: "a veth IPv6 address with prefix 129",
    kind: "VethPair",
    set: { "b.addresses": ["fd00::1/129"] },
    property: "b.addresses[0]",
  },
  {
    label: "a veth address in short form",
    kind: "VethPair",
    set: { "a.addresses": ["10.1/24"] },
    property: "a.addresses[0]",
  },
  { label: "a huge veth MTU", kind: "VethPair", set: { mtu: 1e9 }, property: "mtu" },
  { label: "a negative veth MTU", kind: "VethPair", set: { mtu: -1 }, property: "mtu" },
  { label: "veth up as a string", kind: "VethPair", set: { "a.up": "no" }, property: "a.up" },
  // Route
  {
    label: "a route destination with prefix 33",
    kind: "Route",
    set: { destination: "10.0.0.0/33" },
    property: "destination",
  },
  {
    label: "a route destination of words",
    kind: "Route",
    set: { destination: "abc" },
    property: "destination",
  },
  {
    label: "a route destination with a shell tail",
    kind: "Route",
    set: { destination: "default; reboot" },
    property: "destination",
  },
  {
    label: "a route destination with host bits",
    kind: "Route",
    set: { destination: "10.1.2.3/16" },
    property: "destination",
  },
  {
    label: "a route gateway with a command substitution",
    kind: "Route",
    set: { via: "$(reboot)" },
    property: "via",
  },
  { label: "a route gateway in short form", kind: "Route", set: { via: "10.1" }, property: "via" },
  {
    label: "a route gateway with a leading zero",
    kind: "Route",
    set: { via: "010.0.0.1" },
    property: "via",
  },
  {
    label: "a route gateway of the other family",
    kind: "Route",
    set: { via: "fd00::1" },
    property: "via",
  },
  {
    label: "an IPv4 gateway for an IPv6 destination",
    kind: "Route",
    set: { destination: "fd01::/64", via: "10.0.0.254" },
    property: "via",
  },
  {
    label: "a route device with &&",
    kind: "Route",
    set: { device: "eth0&&reboot" },
    property: "device",
  },
  {
    label: "a route namespace with backticks",
    kind: "Route",
    set: { namespace: "ns`x`" },
    property: "namespace",
  },
  { label: "a negative route metric", kind: "Route", set: { metric: -1 }, property: "metric" },
  {
    label: "a route metric over 32 bits",
    kind: "Route",
    set: { metric: 4294967296 },
    property: "metric",
  },
  { label: "a fractional route metric", kind: "Route", set: { metric: 1.5 }, property: "metric" },
  { label: "a route metric as a string", kind: "Route", set: { metric: "10" }, property: "metric" },
  {
    label: "a route table with a shell tail",
    kind: "Route",
    set: { table: "main; reboot" },
    property: "table",
  },
  {
    label: "a route table with a leading zero, which ip(8) reads as octal",
    kind: "Route",
    set: { table: "010" },
    property: "table",
  },
  {
    label: "route table 0, which is no table (the kernel uses main, ip lists all)",
    kind: "Route",
    set: { table: "0" },
    property: "table",
  },
  {
    label: "a route table over 32 bits",
    kind: "Route",
    set: { table: "4294967296" },
    property: "table",
  },
  // NatRule
  {
    label: "a NAT source in IPv6",
    kind: "NatRule",
    set: { source: "fd00::/64" },
    property: "source",
  },
  {
    label: "a NAT source with extra iptables words",
    kind: "NatRule",
    set: { source: "10.0.0.0/24 -j ACCEPT" },
    property: "source",
  },
  {
    label: "a NAT source with prefix 33",
    kind: "NatRule",
    set: { source: "10.0.0.0/33" },
    property: "source",
  },
  {
    label: "a NAT source with octet 256",
    kind: "NatRule",
    set: { source: "10.0.0.256/24" },
    property: "source",
  },
  { label: "a NAT source of words", kind: "NatRule", set: { source: "abc" }, property: "source" },
  {
    label: "a NAT interface with a semicolon",
    kind: "NatRule",
    set: { outInterface: "eth0;reboot" },
    property: "outInterface",
  },
  {
    label: "a NAT interface that is an iptables wildcard",
    kind: "NatRule",
    set: { outInterface: "eth+" },
    property: "outInterface",
  },
  {
    label: "a NAT interface that reads as an option",
    kind: "NatRule",
    set: { outInterface: "-j" },
    property: "outInterface",
  },
  {
    label: 'the NAT namespace ".."',
    kind: "NatRule",
    set: { namespace: ".." },
    property: "namespace",
  },
  {
    label: "NAT forwarding as a string",
    kind: "NatRule",
    set: { forwarding: "1" },
    property: "forwarding",
  },
  // Connections, on every kind
  {
    label: "a host with a semicolon",
    kind: "Namespace",
    set: { "connection.host": "10.1.0.2; reboot" },
    property: "connection.host",
  },
  {
    label: "a host that reads as an ssh option",
    kind: "Bridge",
    set: { "connection.host": "-oProxyCommand=reboot" },
    property: "connection.host",
  },
  {
    label: "a user with a command substitution",
    kind: "VethPair",
    set: { "connection.user": "root$(reboot)" },
    property: "connection.user",
  },
  {
    label: "a port as a string",
    kind: "Route",
    set: { "connection.port": "22; reboot" },
    property: "connection.port",
  },
  {
    label: "a command substitution as the target namespace of a check",
    kind: "ConnectivityCheck",
    set: { "to.namespace": "$(reboot)" },
    property: "to.namespace",
  },
  {
    label: "a shell pipe in the address a check probes",
    kind: "ConnectivityCheck",
    set: { "to.address": "10.0.0.2|sh" },
    property: "to.address",
  },
  {
    label: "a jump host with backticks",
    kind: "NatRule",
    set: { "connection.proxy": { host: "`reboot`" } },
    property: "connection.proxy.host",
  },
  // Values of the wrong shape altogether
  {
    label: "a connection that is a bare host name, not an object",
    kind: "Bridge",
    set: { connection: "10.1.0.2" },
    property: "connection",
  },
  {
    label: "a connection that is a number",
    kind: "NatRule",
    set: { connection: 22 },
    property: "connection",
  },
  { label: "a veth end that is a list", kind: "VethPair", set: { a: [] }, property: "a" },
  { label: "a veth end that is a number", kind: "VethPair", set: { b: 5 }, property: "b" },
  {
    label: "a check's source that is a list",
    kind: "ConnectivityCheck",
    set: { from: ["ns-blue"] },
    property: "from",
  },
  // LinkShaping
  {
    label: "a negative rate for LinkShaping",
    kind: "LinkShaping",
    set: { rate: "-10mbit" },
    property: "rate",
  },
  {
    label: "a rate of zero for LinkShaping",
    kind: "LinkShaping",
    set: { rate: "0mbit" },
    property: "rate",
  },
  {
    label: "a rate without a unit for LinkShaping",
    kind: "LinkShaping",
    set: { rate: "10000000" },
    property: "rate",
  },
  {
    label: "a rate as a number for LinkShaping",
    kind: "LinkShaping",
    set: { rate: 10 },
    property: "rate",
  },
  {
    label: "a rate in an unknown unit for LinkShaping",
    kind: "LinkShaping",
    set: { rate: "10mbps/s" },
    property: "rate",
  },
  {
    label: "a rate with a shell command for LinkShaping",
    kind: "LinkShaping",
    set: { rate: "10mbit;reboot" },
    property: "rate",
  },
  {
    label: "a rate above 10tbit for LinkShaping",
    kind: "LinkShaping",
    set: { rate: "11tbit" },
    property: "rate",
  },
  {
    label: "a rate that is not whole bytes per second for LinkShaping",
    kind: "LinkShaping",
    set: { rate: "12bit" },
    property: "rate",
  },
  {
    label: "a delay in an unknown unit for LinkShaping",
    kind: "LinkShaping",
    set: { delay: "40 minutes" },
    property: "delay",
  },
  {
    label: "a negative delay for LinkShaping",
    kind: "LinkShaping",
    set: { delay: "-40ms" },
    property: "delay",
  },
  {
    label: "a delay finer than a microsecond for LinkShaping",
    kind: "LinkShaping",
    set: { delay: "0.5us" },
    property: "delay",
  },
  {
    label: "a delay over an hour for LinkShaping",
    kind: "LinkShaping",
    set: { delay: "2h" },
    property: "delay",
  },
  {
    label: "loss over 100% for LinkShaping",
    kind: "LinkShaping",
    set: { loss: 101 },
    property: "loss",
  },
  {
    label: "negative loss for LinkShaping",
    kind: "LinkShaping",
    set: { loss: -1 },
    property: "loss",
  },
  {
    label: "loss as a string for LinkShaping",
    kind: "LinkShaping",
    set: { loss: "0.5%" },
    property: "loss",
  },
  {
    label: "loss of NaN for LinkShaping",
    kind: "LinkShaping",
    set: { loss: Number.NaN },
    property: "loss",
  },
  {
    label: "duplicate over 100% for LinkShaping",
    kind: "LinkShaping",
    set: { duplicate: 150 },
    property: "duplicate",
  },
  {
    label: "reorder of infinity for LinkShaping",
    kind: "LinkShaping",
    set: { reorder: Number.POSITIVE_INFINITY },
    property: "reorder",
  },
  {
    label: "a device name with a slash for LinkShaping",
    kind: "LinkShaping",
    set: { device: "../../etc/x" },
    property: "device",
  },
  {
    label: "a device name of 16 bytes for LinkShaping",
    kind: "LinkShaping",
    set: { device: SIXTEEN },
    property: "device",
  },
  {
    label: "a namespace with a semicolon for LinkShaping",
    kind: "LinkShaping",
    set: { namespace: "ns;reboot" },
    property: "namespace",
  },
  {
    label: "jitter without delay",
    kind: "LinkShaping",
    set: { delay: undefined, jitter: "5ms" },
    property: "jitter",
  },
  {
    label: "reorder without delay",
    kind: "LinkShaping",
    set: { delay: undefined, reorder: 25 },
    property: "reorder",
  },
  {
    label: "shaping with no value at all",
    kind: "LinkShaping",
    set: { rate: undefined, delay: undefined },
    property: "rate",
  },
  {
    label: "shaping without a device",
    kind: "LinkShaping",
    set: { device: undefined },
    property: "device",
  },
];

afterAll(() => {
  // Nothing above may have reached the transport: not one connection, channel or command.
  expect(transportStats).toEqual({ connections: 0, channels: 0, commands: 0 });
});

describe("hostile input", () => {
  it("has at least 40 rows, covering every kind", () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(ROWS.map((r) => r.kind))).toEqual(new Set(Object.keys(kinds)));
  });

  it.each(labelled(Object.keys(BASE).map((kind) => ({ label: kind, kind: kind as KindName }))))(
    "starts from %s inputs that pass",
    (_label, { kind }) => {
      expect(checkOf(kind)(undefined, inputsOf(kind)).failures).toEqual([]);
    },
  );

  it.each(labelled(ROWS))(
    "refuses %s in check, naming the field",
    (_label, { kind, set, property }) => {
      const { failures } = checkOf(kind)(undefined, inputsOf(kind, set));
      expectFailureAt(failures, property);
    },
  );

  it.each(labelled(ROWS))(
    "refuses %s in the runtime's check, before create could run",
    async (_label, { kind, set, property }) => {
      const before = { ...transportStats };
      const result = await handler(kind).check!({}, inputsOf(kind, set));
      expectFailureAt((result.failures ?? []) as ValidationFailure[], property);
      expect(transportStats).toEqual(before);
    },
  );
});

/** The failures name `property` (and nothing else), each with a reason in words. */
function expectFailureAt(failures: readonly ValidationFailure[], property: string): void {
  expect(failures.length).toBeGreaterThan(0);
  expect(failures.map((f) => f.property)).toContain(property);
  for (const f of failures) {
    expect(f.property).toBe(property);
    expect(typeof f.reason).toBe("string");
    expect(f.reason.trim()).not.toBe("");
  }
}
