/**
 * Across hosts: the walk of `diagnose` on the first host, and where the path
 * leaves it (routed, or through a VXLAN device) for an address another given
 * host holds, on into that host from the link that holds it (through VXLAN:
 * from that host's device of the same VNI, across its bridge): as a router
 * there (forwarding, its route on, FORWARD, nftables, rp_filter), or as the
 * destination (its firewall, its route back). The probe runs last, from the
 * source on the first host. Checks on the other hosts say which host in
 * `where` (`HOST:NAMESPACE`).
 */

import type { Host } from "../transport";
import { walk, walkOn, validateRequest } from "./diagnose";
import { readFacts, type HostFacts } from "./facts";
import { type WalkState, buildReport, newWalk } from "./state";
import { arrive, routerHop } from "./checks/routes";
import { checkConflicts, checkMtu } from "./checks/conflicts";
import { probe } from "./checks/probe";
import type { DoctorCheck, DoctorReport, DoctorRequest, PathHop } from "./types";
import { type Link, adminUp, findLink, ownersOf } from "./world";
import { ipArgv, parseJsonList } from "../host/ip";
import { bridgeSegment, chooseKeeper } from "./logic";
import { checkBridgePort, checkFarSide } from "./checks/bridge";
import { checkBridged } from "./checks/filter";
import { pass, record } from "./state";
import { nsLabel } from "./types";
import { evidence } from "./evidence";

const MAX_HOSTS = 4;

/**
 * Diagnoses `request` starting on `hosts[0]`, following the path into the
 * other hosts where it leaves one for an address another holds.
 */
export async function diagnoseAcross(
  hosts: readonly Host[],
  request: DoctorRequest,
): Promise<DoctorReport> {
  validateRequest(request);
  if (hosts.length === 0) throw new Error("diagnoseAcross needs at least one host");
  const started = Date.now();
  const facts = new Map<Host, HostFacts>();
  const factsOf = async (h: Host) => {
    let f = facts.get(h);
    if (!f) {
      f = await readFacts(h);
      facts.set(h, f);
    }
    return f;
  };
  // Every host's facts first: the first walk must know which addresses lie on the others.
  for (const h of hosts) await factsOf(h);
  const holderOf = (address: string, except: Host): { host: Host; link: Link } | undefined => {
    for (const h of hosts) {
      if (h === except) continue;
      const link = ownersOf(facts.get(h)!.world, address).find((l) => l.name !== "lo");
      if (link) return { host: h, link };
    }
    return undefined;
  };

  const first = newWalk(hosts[0]!, facts.get(hosts[0]!)!, { ...request, noProbe: true });
  first.onward = (address) => holderOf(address, hosts[0]!)?.host.name;
  await walk(first);

  const checks: DoctorCheck[] = [...first.checks];
  const path: PathHop[] = [...first.path];
  let current: WalkState = first;
  let failed = first.failed;
  const visited = new Set<Host>([hosts[0]!]);
  let destination: DoctorReport["destination"] = {
    namespace: first.dstNs,
    address: first.dst,
    onHost: first.dstOnHost,
  };
  for (let n = 1; n < MAX_HOSTS && !failed && !current.dstOnHost; n++) {
    const last = current.path.at(-1);
    if (!last?.note?.startsWith("leaves the host")) break;
    // Through a VXLAN device: on into the host that holds its remote, from its device of the same VNI.
    const tunnel = last.note.startsWith(VXLAN_NOTE)
      ? await tunnelEnd(current, last, (a) => holderOf(a, current.host), facts)
      : undefined;
    const next = tunnel ?? holderOf(last.via ?? current.dst, current.host);
    if (!next || visited.has(next.host)) break;
    visited.add(next.host);
    const w = newWalk(next.host, facts.get(next.host)!, {
      from: {},
      to: { address: current.dst },
      noProbe: true,
    });
    w.onward = (address) => holderOf(address, next.host)?.host.name;
    w.srcAddr = current.natSource ?? current.srcAddr;
    w.dst = current.dst;
    const owner = ownersOf(w.world, w.dst).find((l) => l.name !== "lo");
    w.dstOnHost = owner !== undefined;
    w.dstNs = owner?.namespace;
    if (tunnel) await fromTunnel(w, tunnel.link, tunnel.nexthop);
    else await transit(w, next.link);
    const where = (c: DoctorCheck): DoctorCheck =>
      c.where !== undefined ? { ...c, where: `${next.host.name}:${c.where}` } : c;
    checks.push(...w.checks.map(where));
    path.push(...w.path.map((p) => ({ ...p, host: next.host.name })));
    if (w.dstOnHost) {
      destination = { namespace: w.dstNs, address: w.dst, onHost: true };
    }
    failed = w.failed;
    current = w;
  }
  if (!failed && !request.noProbe) {
    const before = first.checks.length;
    await probe(first);
    checks.push(...first.checks.splice(before));
  }
  const report = buildReport(
    { ...first, checks, path, failed: checks.some((c) => c.status === "fail") },
    Date.now() - started,
  );
  return {
    ...report,
    host: [...visited].map((h) => h.name).join(" → "),
    request,
    destination,
  };
}

/** The path arrives on this host by `iif`: it is the destination there, or a router on the way. */
async function transit(w: WalkState, iif: Link): Promise<void> {
  const ns = iif.namespace;
  const holds = iif.inet.some((a) => a.address === w.dst);
  if (holds || (w.dstOnHost && w.dstNs === ns)) {
    w.path.push({ namespace: ns, in: iif.name, note: "destination" });
    if (!(await arrive(w, ns, iif))) return;
  } else {
    const next = await routerHop(w, ns, iif, undefined);
    if (!next) return;
    await walkOn(w, ns, next.dev, next.route, iif);
    return;
  }
  if (w.failed) return;
  checkMtu(w);
  if (w.failed) return;
  await checkConflicts(w);
}

/** How the VXLAN check notes a frame that leaves the host (see checks/vxlan.ts). */
const VXLAN_NOTE = "leaves the host through VXLAN to ";

/** A VXLAN device's VNI, from `ip -d -json link show`; undefined when it cannot be read. */
async function vniOf(
  host: Host,
  ns: string | undefined,
  name: string,
): Promise<number | undefined> {
  const r = await host.run(ipArgv(ns, "-d", "-json", "link", "show", "dev", name));
  if (r.exitCode !== 0) return undefined;
  const link = parseJsonList<{ linkinfo?: { info_data?: { id?: number } } }>(r.stdout)[0];
  return link?.linkinfo?.info_data?.id;
}

/**
 * Where a frame that left `w`'s host by its VXLAN device `last.out` arrives:
 * on the first given host that holds one of the device's remotes, its VXLAN
 * device of the same VNI; with the L2 next hop (the gateway the frame is
 * for, or the destination).
 */
async function tunnelEnd(
  w: WalkState,
  last: PathHop,
  holder: (address: string) => { host: Host; link: Link } | undefined,
  facts: ReadonlyMap<Host, HostFacts>,
): Promise<{ host: Host; link: Link; nexthop: string } | undefined> {
  if (!last.out) return undefined;
  const vni = await vniOf(w.host, last.namespace, last.out);
  if (vni === undefined) return undefined;
  const remotes = last.note!.slice(VXLAN_NOTE.length).split(", ");
  const hop = w.path.at(-2);
  const nexthop = hop?.via ?? w.dst;
  for (const remote of remotes) {
    const far = holder(remote);
    if (!far) continue;
    const world = facts.get(far.host)!.world;
    for (const ns of world.namespaces) {
      for (const link of ns.links) {
        if (link.kind !== "vxlan") continue;
        if ((await vniOf(far.host, link.namespace, link.name)) === vni) {
          return { host: far.host, link, nexthop };
        }
      }
    }
  }
  return undefined;
}

/**
 * The frame comes out of `tunnel` (this host's VXLAN device of the VNI): up,
 * into its bridge (up, the device a forwarding port), across that bridge to
 * the link holding `nexthop` (up, and its port), and on from there as
 * {@link transit} goes: the destination, or a router.
 */
async function fromTunnel(w: WalkState, tunnel: Link, nexthop: string): Promise<void> {
  const ns = tunnel.namespace;
  w.path.push({ namespace: ns, in: tunnel.name, note: "arrives through VXLAN" });
  if (!adminUp(tunnel)) {
    record(
      w,
      "fail",
      "nexthop.link",
      ns,
      `${tunnel.name} in ${nsLabel(ns)}, where the VXLAN segment arrives, is UP`,
      await evidence(w.host, ipArgv(ns, "link", "show", "dev", tunnel.name)),
      [ipArgv(ns, "link", "set", "dev", tunnel.name, "up")],
    );
    return;
  }
  if (tunnel.inet.some((a) => a.address === nexthop) || !tunnel.master) {
    await transit(w, tunnel);
    return;
  }
  const bridge = findLink(w.world, ns, tunnel.master);
  if (!bridge || bridge.kind !== "bridge") {
    await transit(w, tunnel);
    return;
  }
  if (!(await checkBridgePort(w, bridge, tunnel))) return;
  const segment = bridgeSegment(w.world, bridge);
  const owners = segment.members.filter((m) => m.link.inet.some((a) => a.address === nexthop));
  if (owners.length === 0) {
    record(
      w,
      "fail",
      "route.gateway",
      ns,
      `${nexthop} is on ${bridge.name}'s segment`,
      `the VXLAN segment arrives on ${bridge.name} by ${tunnel.name}, but no interface on ${bridge.name} holds ${nexthop}`,
    );
    return;
  }
  const keeper = chooseKeeper(owners, {
    dst: w.dst,
    dstNs: w.dstNs,
    src: w.srcAddr,
    srcNs: undefined,
  });
  pass(
    w,
    "route.gateway",
    keeper.link.namespace,
    `${nexthop} is on ${bridge.name}'s segment`,
    `${nexthop} is ${keeper.link.name} in ${nsLabel(keeper.link.namespace)}, reached from ${tunnel.name}`,
  );
  if (!(await checkFarSide(w, keeper.link, keeper.port, segment))) return;
  if (keeper.port && !checkBridged(w, segment, tunnel, keeper.port)) return;
  await transit(w, keeper.link);
}
