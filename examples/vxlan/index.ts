/**
 * One layer-2 segment across hosts. On each host: a bridge `br-<site>`, two
 * namespaces (`<site>-a`, `<site>-b`) with a veth to it, and a VXLAN device
 * `vx-seg` that is a port of the bridge and whose remotes are the other
 * hosts' addresses: so the bridges of all hosts are one switch, and every
 * namespace reaches every other in one subnet. A ConnectivityCheck from each
 * host's `-a` namespace to the `-b` namespace of every other host makes
 * `pulumi up` fail, with the doctor's report, where the segment does not carry.
 *
 * The connections come from one secret config object, `hosts` (as in
 * examples/multi-host); the hosts' underlay addresses are their connections'
 * `host` unless `underlay` says otherwise. Adding a host to `sites` and
 * `hosts` adds its resources and updates only the other hosts' remotes.
 */

import * as pulumi from "@pulumi/pulumi";
import * as linuxnet from "pulumi-linuxnet";

const config = new pulumi.Config();
const siteNames = config.getObject<string[]>("sites") ?? ["east", "west", "north"];
const hosts = config.requireSecretObject<linuxnet.ConnectionArgs[]>("hosts");
const vni = config.getNumber("vni") ?? 42;
const subnet = config.get("subnet") ?? "10.40.0.0/24";

const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(subnet);
if (!m || m.slice(1).some((o) => Number(o) > 255)) {
  throw new Error(`config: subnet ${JSON.stringify(subnet)} must be a /24 like 10.40.0.0/24`);
}
const net = m.slice(1).join(".");
if (siteNames.length > 25) throw new Error(`config: at most 25 sites, got ${siteNames.length}`);

/** Each host's connection, checked against the sites (a secret Output). */
const connections = hosts.apply((list) => {
  if (list.length !== siteNames.length) {
    throw new Error(
      `config: ${siteNames.length} sites (${siteNames.join(", ")}) but ${list.length} hosts; give one connection per site`,
    );
  }
  return list;
});

/**
 * Each host's underlay address: plain config, or the connections' hosts. An
 * address is no secret (the keys beside it are), so it is taken out of the
 * secret: otherwise every `remotes` would be stored as one.
 */
const given = config.getObject<string[]>("underlay") ?? [];
if (given.length > 0 && given.length !== siteNames.length) {
  throw new Error(`config: ${siteNames.length} sites but ${given.length} underlay addresses`);
}
const underlay: pulumi.Output<string[]> =
  given.length > 0
    ? pulumi.output(given)
    : pulumi.unsecret(connections.apply((list) => list.map((c) => String(c.host))));

/** The two namespaces' addresses of site `i`. */
const addressesOf = (i: number) => ({ a: `${net}.${10 * i + 1}`, b: `${net}.${10 * i + 2}` });

function site(name: string, index: number) {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(name)) {
    // The site name prefixes interface names, which the kernel limits to 15 bytes.
    throw new Error(`config: site name ${JSON.stringify(name)} must be 1-6 of a-z, 0-9`);
  }
  const connection = connections.apply((list) => list[index]!);
  const addr = addressesOf(index);

  const bridge = new linuxnet.Bridge(`${name}-br`, {
    connection,
    name: `br-${name}`,
    // Hosts with a DROP policy on FORWARD (Docker's) would drop bridged traffic otherwise.
    acceptForwarding: true,
  });
  const segment = new linuxnet.Vxlan(`${name}-vx`, {
    connection,
    name: "vx-seg",
    vni,
    local: underlay.apply((u) => u[index]!),
    // Head-end replication: every other host is a remote.
    remotes: underlay.apply((u) => u.filter((_, i) => i !== index)),
    bridge: bridge.name,
  });
  const member = (role: "a" | "b", address: string) => {
    const ns = new linuxnet.Namespace(`${name}-${role}`, { connection, name: `${name}-${role}` });
    const veth = new linuxnet.VethPair(`${name}-${role}`, {
      connection,
      a: { name: "eth0", namespace: ns.name, addresses: [`${address}/24`] },
      b: { name: `${name}-${role}-br`, bridge: bridge.name },
      // The segment carries 1450-byte frames (the underlay's 1500 less VXLAN's 50): a larger
      // frame from a namespace would be dropped at the VXLAN device.
      mtu: segment.effectiveMtu,
    });
    return { ns, veth };
  };
  return {
    name,
    index,
    connection,
    bridge,
    segment,
    a: member("a", addr.a),
    b: member("b", addr.b),
  };
}

const sites = siteNames.map((name, i) => site(name, i));

// From each host's `-a` namespace to the `-b` namespace of every other host.
const checks: Record<string, pulumi.Output<string>> = {};
for (const from of sites) {
  for (const to of sites) {
    if (from === to) continue;
    const check = new linuxnet.ConnectivityCheck(
      `${from.name}-to-${to.name}`,
      {
        connection: from.connection,
        from: { namespace: from.a.ns.name },
        to: { address: addressesOf(to.index).b },
      },
      // Both ends of the path exist, on both hosts, before the check looks.
      {
        dependsOn: [from.a.veth, from.segment, to.b.veth, to.segment],
      },
    );
    checks[`${from.name}->${to.name}`] = check.summary;
  }
}

/** Per site: its bridge, namespaces and addresses, and the VXLAN device's remotes and MTU. */
export const segment = Object.fromEntries(
  sites.map((s) => [
    s.name,
    {
      bridge: s.bridge.name,
      namespaces: { a: s.a.ns.name, b: s.b.ns.name },
      addresses: addressesOf(s.index),
      vxlan: { name: s.segment.name, remotes: s.segment.remotes, mtu: s.segment.effectiveMtu },
    },
  ]),
);
/** Each check's verdict, by `from->to`. */
export const connectivity = checks;
