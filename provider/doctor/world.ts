/**
 * The doctor's picture of one host: every namespace (the host's own and each
 * in `ip netns list`), its links with their addresses, and which link is whose
 * veth peer. Read from the kernel (the host snapshot's `ip -json -details link`,
 * `ip -json addr` and `ip -json netns list-id`), so it describes hosts this
 * package did not build. Parsing and peer matching are pure.
 */

import ipaddr from "ipaddr.js";
import { parseJsonList } from "../host/ip";
import type { HostSnapshot, NamespaceDump } from "../host/snapshot";

/** One IPv4 address on a link. */
export interface Inet {
  readonly address: string;
  readonly prefixlen: number;
}

/** A link as the doctor uses it. */
export interface Link {
  /** The namespace it is in; undefined for the host's own. */
  readonly namespace?: string;
  readonly ifindex: number;
  readonly name: string;
  readonly flags: readonly string[];
  readonly mtu: number;
  readonly operstate: string;
  /** Its MAC address. */
  readonly mac?: string;
  /** `veth`, `bridge`, `dummy`, ...; undefined for a plain (physical) device. */
  readonly kind?: string;
  /** The bridge it is a port of. */
  readonly master?: string;
  /** A bridge port's STP state: `forwarding`, `disabled`, `blocking`, ... */
  readonly portState?: string;
  /** For a veth: the peer's ifindex, in `peerNetnsid`'s namespace (or this one when unset). */
  readonly peerIfindex?: number;
  readonly peerNetnsid?: number;
  /** For a bridge: its own `nf_call_iptables` option. */
  readonly bridgeNfCallIptables?: boolean;
  /** Configured IPv4 addresses. */
  readonly inet: readonly Inet[];
}

/** One namespace and its links. */
export interface NamespaceState {
  /** undefined: the host's own namespace. */
  readonly name?: string;
  readonly links: readonly Link[];
  /** netnsid (as this namespace numbers the others) to namespace name ("" for an unnamed one). */
  readonly nsids: ReadonlyMap<number, string>;
}

/** Every namespace of a host. */
export interface World {
  readonly namespaces: readonly NamespaceState[];
}

interface RawAddrLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu?: number;
  operstate?: string;
  address?: string;
  master?: string;
  link_index?: number;
  link_netnsid?: number;
  linkinfo?: {
    info_kind?: string;
    info_slave_kind?: string;
    info_data?: { nf_call_iptables?: number };
    info_slave_data?: { state?: string };
  };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/**
 * Parses `ip -json -details addr show` of one namespace, or `ip -json -details
 * link show` with the addresses from `ip -json addr show` (`addrStdout`,
 * matched by ifindex). Pure.
 */
export function parseLinks(
  stdout: string,
  namespace: string | undefined,
  addrStdout?: string,
): Link[] {
  const addrs =
    addrStdout === undefined
      ? undefined
      : new Map(parseJsonList<RawAddrLink>(addrStdout).map((a) => [a.ifindex, a.addr_info]));
  return parseJsonList<RawAddrLink>(stdout).map((r) => ({
    namespace,
    ifindex: r.ifindex,
    name: r.ifname,
    flags: r.flags ?? [],
    mtu: r.mtu ?? 0,
    operstate: r.operstate ?? "UNKNOWN",
    mac: r.address,
    kind: r.linkinfo?.info_kind,
    master: r.master,
    portState: r.linkinfo?.info_slave_data?.state,
    peerIfindex: r.linkinfo?.info_kind === "veth" ? r.link_index : undefined,
    peerNetnsid: r.linkinfo?.info_kind === "veth" ? r.link_netnsid : undefined,
    bridgeNfCallIptables:
      r.linkinfo?.info_kind === "bridge" ? r.linkinfo.info_data?.nf_call_iptables === 1 : undefined,
    inet: ((addrs ? addrs.get(r.ifindex) : r.addr_info) ?? [])
      .filter((a) => a.family === "inet")
      .map((a) => ({ address: a.local, prefixlen: a.prefixlen })),
  }));
}

/** Parses `ip -json netns list-id`: netnsid to name, "" where the namespace has none. Pure. */
export function parseNsids(stdout: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of parseJsonList<{ nsid: number; name?: string }>(stdout)) {
    out.set(e.nsid, e.name ?? "");
  }
  return out;
}

/** True when the link is administratively up. */
export function adminUp(link: Link): boolean {
  return link.flags.includes("UP");
}

/** True when the link has carrier (its veth peer is up, its cable is in). */
export function hasCarrier(link: Link): boolean {
  return link.flags.includes("LOWER_UP");
}

/** The namespace state of `name` (undefined: the host's own), if it exists. */
export function namespaceOf(world: World, name: string | undefined): NamespaceState | undefined {
  return world.namespaces.find((n) => n.name === name);
}

/** A link by namespace and name. */
export function findLink(
  world: World,
  namespace: string | undefined,
  name: string,
): Link | undefined {
  return namespaceOf(world, namespace)?.links.find((l) => l.name === name);
}

/**
 * The other end of a veth. The kernel names the peer by ifindex and, when it
 * is in another namespace, by that namespace's netnsid as seen from this one;
 * ifindexes repeat across namespaces, so a candidate must point back at us,
 * and when several do, the netnsid decides. `unknown` when the peer lives in a
 * namespace that has no name here (a container's, or a lab host's uplink).
 */
export function vethPeer(world: World, link: Link): Link | "unknown" | undefined {
  if (link.kind !== "veth" || link.peerIfindex === undefined) return undefined;
  if (link.peerNetnsid === undefined) {
    return namespaceOf(world, link.namespace)?.links.find((l) => l.ifindex === link.peerIfindex);
  }
  const candidates = world.namespaces
    .filter((n) => n.name !== link.namespace)
    .flatMap((n) => n.links)
    .filter(
      (l) =>
        l.kind === "veth" &&
        l.ifindex === link.peerIfindex &&
        l.peerIfindex === link.ifindex &&
        l.peerNetnsid !== undefined,
    );
  const ids = namespaceOf(world, link.namespace)?.nsids;
  const named = ids?.get(link.peerNetnsid);
  if (named !== undefined) {
    // "" is a namespace without a name: of ours, only the host's own has none. An ifindex
    // pair can repeat by chance across namespaces (a lab host's uplink and a veth of ours),
    // so the netnsid decides whenever it is known.
    const hit = candidates.find((c) => (c.namespace ?? "") === named);
    if (hit) return hit;
    if (candidates.length > 0 && (named !== "" || link.namespace === undefined)) return "unknown";
  }
  return candidates.length === 0 ? "unknown" : candidates[0];
}

/** Every link in every namespace that carries `address`. */
export function ownersOf(world: World, address: string): Link[] {
  return world.namespaces.flatMap((n) =>
    n.links.filter((l) => l.inet.some((a) => a.address === address)),
  );
}

/** The link (in any namespace) with this MAC address. */
export function linkByMac(world: World, mac: string): Link | undefined {
  const want = mac.toLowerCase();
  return world.namespaces.flatMap((n) => n.links).find((l) => l.mac?.toLowerCase() === want);
}

/** True when `address` lies in the network of `inet`. Pure. */
export function inNetwork(address: string, inet: Inet): boolean {
  try {
    const a = ipaddr.IPv4.parse(address);
    return a.match(ipaddr.IPv4.parse(inet.address), inet.prefixlen);
  } catch {
    return false;
  }
}

/** The network (`10.0.0.0/24`) of an interface address. Pure. */
export function networkOf(inet: Inet): string {
  const net = ipaddr.IPv4.networkAddressFromCIDR(`${inet.address}/${inet.prefixlen}`);
  return `${net.toString()}/${inet.prefixlen}`;
}

/** True for addresses that the internet does not route back (RFC 1918, shared, link-local). Pure. */
export function isPrivate(address: string): boolean {
  try {
    const range = ipaddr.IPv4.parse(address).range();
    return range === "private" || range === "carrierGradeNat" || range === "linkLocal";
  } catch {
    return false;
  }
}

/** True for a dotted-quad IPv4 address. Pure. */
export function isIpv4(value: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(value);
}

/**
 * The world in a host snapshot taken with the `nsids` section. A namespace
 * the dump could not enter, or whose links it could not read, is not there
 * (deleted between the listing and the read); a host without /run/netns has
 * no namespaces. Pure.
 */
export function worldFromSnapshot(snapshot: HostSnapshot): World {
  const dumps: NamespaceDump[] = [snapshot.own, ...snapshot.namespaces.values()];
  const namespaces: NamespaceState[] = [];
  for (const dump of dumps) {
    const link = dump.sections.link;
    const addr = dump.sections.addr;
    if (dump.unreachable || link?.exitCode !== 0) continue;
    const ids = dump.sections.nsids;
    namespaces.push({
      name: dump.name,
      links: parseLinks(link.stdout, dump.name, addr?.exitCode === 0 ? addr.stdout : "[]"),
      nsids: ids?.exitCode === 0 ? parseNsids(ids.stdout) : new Map(),
    });
  }
  return { namespaces };
}
