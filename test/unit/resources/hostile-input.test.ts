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
  Sysctl: { namespace: "ns-blue", key: "net.ipv4.conf.all.rp_filter", value: "2" },
  PortForward: {
    namespace: "r1",
    protocol: "tcp",
    hostPort: 8080,
    to: "10.0.0.2:80",
    inInterface: "eth0",
    fromHost: true,
  },
  Vxlan: {
    name: "vx0",
    vni: 42,
    remotes: ["10.213.0.3", "10.213.0.4"],
    local: "10.213.0.2",
    device: "eth0",
    bridge: "br0",
    addresses: ["10.77.0.1/24"],
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
  // adopt: a take-over of what someone else made is never implied by a truthy value.
  ...(["Namespace", "Bridge", "VethPair", "Route", "Vxlan"] as const).flatMap((kind) => [
    { label: `${kind} adopt as a string`, kind, set: { adopt: "true" }, property: "adopt" },
    { label: `${kind} adopt as a number`, kind, set: { adopt: 1 }, property: "adopt" },
    { label: `${kind} adopt as null`, kind, set: { adopt: null }, property: "adopt" },
  ]),
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
  // Sysctl
  ...[
    ["a key that climbs out of /proc/sys", "../../etc/x"],
    ["a path key that climbs out of /proc/sys", "net/../../etc/shadow"],
    ["a key with an empty segment", "net..ipv4.ip_forward"],
    ["a key that ends in a dot", "net.ipv4.ip_forward."],
    ["a key that starts with a slash", "/etc/passwd"],
    ["a key given as a /proc/sys path", "/proc/sys/net/ipv4/ip_forward"],
    ["a key with a '.' segment in path form", "net/ipv4/./ip_forward"],
    ["a key with a space", "net.ipv4.ip_forward 1"],
    ["a key with a command substitution", "net.$(reboot).x"],
    ["a key with a NUL", "net.ipv4\u0000.x"],
    ["a key of one segment", "net"],
    ["a key outside the directories of /proc/sys", "etc.passwd"],
    ["an empty key", ""],
    ["a key whose interface name is too long", "net.ipv4.conf.abcdefghijklmnop/1.rp_filter"],
    ["a key that is a number", 5],
  ].map(([label, key]): Row => ({
    label: label as string,
    kind: "Sysctl",
    set: { key },
    property: "key",
  })),
  {
    label: "a kernel.* key inside a namespace (it would change the host)",
    kind: "Sysctl",
    set: { key: "kernel.core_pattern" },
    property: "key",
  },
  {
    label: "a vm.* key inside a namespace, in path form",
    kind: "Sysctl",
    set: { key: "vm/swappiness" },
    property: "key",
  },
  {
    label: "a sysctl value with a newline",
    kind: "Sysctl",
    set: { value: "1\n0" },
    property: "value",
  },
  { label: "an empty sysctl value", kind: "Sysctl", set: { value: " " }, property: "value" },
  {
    label: "a sysctl value that is a number",
    kind: "Sysctl",
    set: { value: 2 },
    property: "value",
  },
  { label: "no sysctl value", kind: "Sysctl", set: { value: undefined }, property: "value" },
  {
    label: "a sysctl namespace of ..",
    kind: "Sysctl",
    set: { namespace: ".." },
    property: "namespace",
  },
  // PortForward
  ...[
    ["a host port of 0", 0],
    ["a host port of 65536", 65536],
    ["a negative host port", -1],
    ["a fractional host port", 80.5],
    ["a host port range upside down", "8010-8000"],
    ["a host port range past 65535", "65530-65540"],
    ["a host port with iptables words", "80 -j ACCEPT"],
    ["a host port range written with a colon", "8000:8010"],
    ["a host port of words", "http"],
  ].map(([label, hostPort]): Row => ({
    label: label as string,
    kind: "PortForward",
    set: { hostPort },
    property: "hostPort",
  })),
  ...[
    ["a target without a port", "10.0.0.2"],
    ["a target with port 0", "10.0.0.2:0"],
    ["a target with port 65536", "10.0.0.2:65536"],
    ["a target in IPv6", "[fd00::2]:80"],
    ["a target on loopback", "127.0.0.1:80"],
    ["a target with a host name", "web:80"],
    ["a target with iptables words", "10.0.0.2:80 -j ACCEPT"],
    ["a target in shortened dotted form", "10.2:80"],
    ["a target whose range would pass 65535", "10.0.0.2:65535"],
  ].map(([label, to]): Row => ({
    label: label as string,
    kind: "PortForward",
    set: to === "10.0.0.2:65535" ? { hostPort: "8000-8001", to } : { to },
    property: "to",
  })),
  {
    label: "a protocol of sctp",
    kind: "PortForward",
    set: { protocol: "sctp" },
    property: "protocol",
  },
  {
    label: "a protocol in capitals",
    kind: "PortForward",
    set: { protocol: "TCP" },
    property: "protocol",
  },
  {
    label: "a forward's interface that is an iptables wildcard",
    kind: "PortForward",
    set: { inInterface: "eth+" },
    property: "inInterface",
  },
  {
    label: "fromHost as a string",
    kind: "PortForward",
    set: { fromHost: "yes" },
    property: "fromHost",
  },
  {
    label: "no host port",
    kind: "PortForward",
    set: { hostPort: undefined },
    property: "hostPort",
  },
  {
    label: "a NAT firewall that is no backend",
    kind: "NatRule",
    set: { firewall: "pf" },
    property: "firewall",
  },
  {
    label: "a NAT firewall with a command in it",
    kind: "NatRule",
    set: { firewall: "nftables; rm -rf /" },
    property: "firewall",
  },
  {
    label: "a NAT firewall as a list",
    kind: "NatRule",
    set: { firewall: ["nftables"] },
    property: "firewall",
  },
  {
    label: "a bridge firewall as a number",
    kind: "Bridge",
    set: { firewall: 1 },
    property: "firewall",
  },
  {
    label: "a bridge firewall in capitals",
    kind: "Bridge",
    set: { firewall: "NFTABLES" },
    property: "firewall",
  },
  {
    label: "a port forward firewall that is no backend",
    kind: "PortForward",
    set: { firewall: "ipfw" },
    property: "firewall",
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
    label: "a command substitution as the host of a check's destination connection",
    kind: "ConnectivityCheck",
    set: { "to.connection": { host: "$(reboot)" } },
    property: "to.connection.host",
  },
  {
    label: "a port as a string in a check's destination connection",
    kind: "ConnectivityCheck",
    set: { "to.connection": { host: "10.1.0.3", port: "22; reboot" } },
    property: "to.connection.port",
  },
  {
    label: "a check's destination connection that is a string",
    kind: "ConnectivityCheck",
    set: { "to.connection": "root@10.1.0.3" },
    property: "to.connection",
  },
  {
    label: "a check's destination connection with no address to go to there",
    kind: "ConnectivityCheck",
    set: { to: { namespace: "ns-far", connection: { host: "10.1.0.3" } } },
    property: "to.address",
  },
  {
    label: "a jump host with backticks",
    kind: "NatRule",
    set: { "connection.proxy": { host: "`reboot`" } },
    property: "connection.proxy.host",
  },
  // Vxlan
  { label: "a VNI of 0", kind: "Vxlan", set: { vni: 0 }, property: "vni" },
  { label: "a VNI of 2^24", kind: "Vxlan", set: { vni: 16777216 }, property: "vni" },
  { label: "a negative VNI", kind: "Vxlan", set: { vni: -42 }, property: "vni" },
  { label: "a VNI as a string", kind: "Vxlan", set: { vni: "42; reboot" }, property: "vni" },
  { label: "no VNI", kind: "Vxlan", set: { vni: undefined }, property: "vni" },
  { label: "a VXLAN port of 0", kind: "Vxlan", set: { port: 0 }, property: "port" },
  { label: "a VXLAN port of 65536", kind: "Vxlan", set: { port: 65536 }, property: "port" },
  {
    label: "a remote with a command substitution",
    kind: "Vxlan",
    set: { remotes: ["10.213.0.3", "$(reboot)"] },
    property: "remotes[1]",
  },
  {
    label: "a remote that is a multicast address",
    kind: "Vxlan",
    set: { remotes: ["239.1.1.1"] },
    property: "remotes[0]",
  },
  {
    label: "a remote that is an IPv6 address",
    kind: "Vxlan",
    set: { remotes: ["fd00::2"] },
    property: "remotes[0]",
  },
  {
    label: "a remote in shortened form",
    kind: "Vxlan",
    set: { remotes: ["10.1"] },
    property: "remotes[0]",
  },
  {
    label: "a remote with a prefix length",
    kind: "Vxlan",
    set: { remotes: ["10.213.0.3/24"] },
    property: "remotes[0]",
  },
  {
    label: "a remote given twice",
    kind: "Vxlan",
    set: { remotes: ["10.213.0.3", "10.213.0.3"] },
    property: "remotes[1]",
  },
  {
    label: "a remote equal to local",
    kind: "Vxlan",
    set: { remotes: ["10.213.0.3", "10.213.0.2"] },
    property: "remotes[1]",
  },
  {
    label: "remotes as a string",
    kind: "Vxlan",
    set: { remotes: "10.213.0.3" },
    property: "remotes",
  },
  {
    label: "remotes and a group together",
    kind: "Vxlan",
    set: { group: "239.1.1.1" },
    property: "group",
  },
  {
    label: "a group that is not multicast",
    kind: "Vxlan",
    set: { remotes: [], group: "10.1.1.1" },
    property: "group",
  },
  {
    label: "a group without a device",
    kind: "Vxlan",
    set: { remotes: [], group: "239.1.1.1", device: undefined },
    property: "device",
  },
  {
    label: "a local that is broadcast",
    kind: "Vxlan",
    set: { local: "255.255.255.255" },
    property: "local",
  },
  { label: "a local with a pipe", kind: "Vxlan", set: { local: "10.0.0.1|sh" }, property: "local" },
  {
    label: "a VXLAN device name of 16 bytes",
    kind: "Vxlan",
    set: { name: SIXTEEN },
    property: "name",
  },
  {
    label: "an underlay device with a semicolon",
    kind: "Vxlan",
    set: { device: "eth0;reboot" },
    property: "device",
  },
  {
    label: "a VXLAN bridge with a space",
    kind: "Vxlan",
    set: { bridge: "br 0" },
    property: "bridge",
  },
  {
    label: "a VXLAN address without a prefix",
    kind: "Vxlan",
    set: { addresses: ["10.77.0.1"] },
    property: "addresses[0]",
  },
  { label: "a VXLAN MTU of 67", kind: "Vxlan", set: { mtu: 67 }, property: "mtu" },
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
