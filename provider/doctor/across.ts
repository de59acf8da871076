/**
 * Across hosts: the walk of `diagnose` on the first host, and where the path
 * leaves it (routed, or through a VXLAN device) for an address another given
 * host holds, on into that host from the link that holds it: as a router
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
import { type Link, ownersOf } from "./world";

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
    const next = holderOf(last.via ?? current.dst, current.host);
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
    await transit(w, next.link);
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
