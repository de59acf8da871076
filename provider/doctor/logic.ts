/**
 * The doctor's decisions that need no host: what an L2 segment holds, which
 * of two holders of an address is the intended one, where MTUs disagree, how
 * strict reverse-path filtering is. Pure, and unit-tested table by table.
 */

import { type Link, type World, findLink, inNetwork, namespaceOf, vethPeer } from "./world";

/** An interface that holds L3 addresses on a segment, and the bridge port it is reached by. */
export interface SegmentMember {
  readonly link: Link;
  /** The bridge port (a veth end) that leads to `link`; unset for the bridge itself or a direct peer. */
  readonly port?: Link;
}

/** One L2 segment: a bridge and whatever hangs off its ports, or the two ends of a veth. */
export interface Segment {
  readonly kind: "bridge" | "direct";
  /** The bridge's name, or `a–b` for a direct veth. */
  readonly label: string;
  /** Where the bridge lives (for `direct`: the far end's namespace). */
  readonly namespace?: string;
  readonly bridge?: Link;
  readonly members: readonly SegmentMember[];
  /** Ports that lead off this host (a NIC, a veth into an unnamed namespace). */
  readonly external: readonly string[];
}

/** The segment a bridge makes: the bridge itself and each port's far end. Pure. */
export function bridgeSegment(world: World, bridge: Link): Segment {
  const ports = (namespaceOf(world, bridge.namespace)?.links ?? []).filter(
    (l) => l.master === bridge.name,
  );
  const members: SegmentMember[] = [{ link: bridge }];
  const external: string[] = [];
  for (const port of ports) {
    const peer = port.kind === "veth" ? vethPeer(world, port) : undefined;
    if (peer && peer !== "unknown") members.push({ link: peer, port });
    else external.push(port.name);
  }
  return {
    kind: "bridge",
    label: bridge.name,
    namespace: bridge.namespace,
    bridge,
    members,
    external,
  };
}

/** What lies on the far side of `dev`: the members of its segment other than itself. Pure. */
export function segmentFrom(world: World, dev: Link): Segment | undefined {
  if (dev.kind === "bridge") return bridgeSegment(world, dev);
  const peer = vethPeer(world, dev);
  if (!peer || peer === "unknown") return undefined;
  if (peer.master) {
    const bridge = findLink(world, peer.namespace, peer.master);
    if (bridge?.kind === "bridge") return bridgeSegment(world, bridge);
  }
  return {
    kind: "direct",
    label: `${dev.name}–${peer.name}`,
    namespace: peer.namespace,
    members: [{ link: peer }],
    external: [],
  };
}

/**
 * Links on `dev`'s segment that could be its gateway: they hold an address in
 * one of `dev`'s networks. The bridge itself first (the usual gateway). Pure.
 */
export function candidateGateways(world: World, dev: Link): Link[] {
  const segment = segmentFrom(world, dev);
  if (!segment) return [];
  return segment.members
    .map((m) => m.link)
    .filter((l) => l !== dev && l.inet.some((a) => dev.inet.some((b) => inNetwork(a.address, b))))
    .sort((a, b) => Number(b.kind === "bridge") - Number(a.kind === "bridge"));
}

/** What the path is about, to tell the intended holder of an address from an intruder. */
export interface KeeperContext {
  readonly dst: string;
  readonly dstNs?: string;
  readonly src: string;
  readonly srcNs?: string;
  /** The namespace that routes ("\0host" for the host's own), when the address is a gateway. */
  readonly gatewayNs?: string;
}

/**
 * Of several interfaces holding one address, the one the path means: the
 * destination's namespace for the destination, the source's for the source,
 * the router for a gateway, else a bridge (gateways usually live there),
 * else the first. Pure.
 */
export function chooseKeeper<M extends { readonly link: Link }>(
  owners: readonly M[],
  ctx: KeeperContext,
): M {
  const holds = (m: M, a: string) => m.link.inet.some((x) => x.address === a);
  const inNs = (m: M, ns: string | undefined) => m.link.namespace === ns;
  const pick =
    (ctx.dstNs !== undefined || owners.some((m) => holds(m, ctx.dst))
      ? owners.find((m) => holds(m, ctx.dst) && inNs(m, ctx.dstNs))
      : undefined) ??
    owners.find((m) => holds(m, ctx.src) && inNs(m, ctx.srcNs)) ??
    (ctx.gatewayNs !== undefined
      ? owners.find((m) => inNs(m, ctx.gatewayNs === "\0host" ? undefined : ctx.gatewayNs))
      : undefined) ??
    owners.find((m) => m.link.kind === "bridge") ??
    owners[0];
  return pick!;
}

/** One address held by more than one interface on a segment. */
export interface Duplicate {
  readonly address: string;
  readonly segment: string;
  readonly holders: Link[];
}

/** Addresses held twice (or more) on the same segment. Pure. */
export function duplicateAddresses(segments: readonly Segment[]): Duplicate[] {
  const out: Duplicate[] = [];
  const done = new Set<string>();
  for (const s of segments) {
    if (done.has(s.label)) continue;
    done.add(s.label);
    const byAddress = new Map<string, Link[]>();
    for (const m of s.members) {
      for (const a of m.link.inet) {
        const list = byAddress.get(a.address) ?? [];
        if (!list.includes(m.link)) list.push(m.link);
        byAddress.set(a.address, list);
      }
    }
    for (const [address, holders] of byAddress) {
      if (holders.length > 1) out.push({ address, segment: s.label, holders });
    }
  }
  return out;
}

/** A segment whose links disagree on the MTU, the MTU they should share, and the links to change. */
export interface MtuProblem {
  readonly segment: string;
  readonly links: readonly Link[];
  readonly target: number;
  readonly fix: readonly Link[];
}

/**
 * Links crossed at L2 that disagree on the MTU. A veth or bridge port drops a
 * frame larger than its own MTU silently (no ICMP comes back), so within one
 * segment every link must agree. The target is the MTU most of them have
 * (the larger on a tie); a bridge follows its ports by itself, so it is
 * changed only when it alone differs. Pure.
 */
export function mtuMismatches(
  crossings: readonly { segment: string; links: readonly Link[] }[],
): MtuProblem[] {
  const out: MtuProblem[] = [];
  for (const c of crossings) {
    const mtus = c.links.map((l) => l.mtu);
    if (new Set(mtus).size <= 1) continue;
    const counts = new Map<number, number>();
    for (const m of mtus) counts.set(m, (counts.get(m) ?? 0) + 1);
    const target = [...counts.entries()].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]![0];
    const differing = c.links.filter((l) => l.mtu !== target);
    const nonBridge = differing.filter((l) => l.kind !== "bridge");
    out.push({
      segment: c.segment,
      links: c.links,
      target,
      fix: nonBridge.length > 0 ? nonBridge : differing,
    });
  }
  return out;
}

/**
 * The rp_filter mode the kernel applies on an interface: the larger of
 * `conf/all` and `conf/IFACE` (0 off, 1 strict, 2 loose). Pure.
 */
export function rpFilterMode(all: string | undefined, iface: string | undefined): 0 | 1 | 2 {
  const n = Math.max(Number(all) || 0, Number(iface) || 0);
  return n >= 2 ? 2 : n === 1 ? 1 : 0;
}

/**
 * Names for a new veth pair into namespace `ns`: `veth-<ns without "ns-">`
 * and that plus `-br`, within the kernel's 15 bytes, avoiding `taken`. Pure.
 */
export function guessVethNames(ns: string, taken: ReadonlySet<string>): [string, string] {
  const base = ns.replace(/^ns-/, "").replace(/[^A-Za-z0-9_.-]/g, "") || "ns";
  for (let i = 0; i < 10; i++) {
    const suffix = i === 0 ? "" : String(i);
    const a = `veth-${base}`.slice(0, 12 - suffix.length) + suffix;
    const b = `${a}-br`;
    if (!taken.has(a) && !taken.has(b)) return [a, b];
  }
  return [`veth-${process.pid % 1000}`, `veth-${process.pid % 1000}-br`];
}
