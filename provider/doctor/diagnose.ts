/**
 * `diagnose`: why can't A reach B, hop by hop. It reads the host's state once
 * (the host snapshot: every namespace's links, rules and settings), then
 * follows the path the kernel would take (`ip route get` in each namespace
 * the packet passes), checking each point in order and stopping at the first
 * broken one, with the kernel's evidence and a command that would fix it.
 * Last, when nothing is broken, a real probe.
 *
 * This file only wires the families of checks (under `checks/`) in the order
 * a packet meets them; they share one {@link WalkState}. It reads and probes;
 * it never changes the host.
 */

import type { Host } from "../transport";
import { readFacts } from "./facts";
import { type WalkState, buildReport, newWalk, record } from "./state";
import { type DoctorReport, type DoctorRequest, type Endpoint, nsLabel } from "./types";
import type { RouteGet } from "./evidence";
import { type Link, isIpv4 } from "./world";
import { checkConflicts, checkMtu } from "./checks/conflicts";
import { checkSourceNamespace, ownsDestination, resolveDestination } from "./checks/endpoints";
import { egress } from "./checks/nat";
import { probe } from "./checks/probe";
import { arrive, routerHop } from "./checks/routes";
import { crossSegment } from "./checks/segment";
import { sourceHop } from "./checks/source";

export { CHECK_ORDER } from "./state";

const MAX_HOPS = 8;

/** Diagnoses the path from `request.from` to `request.to` on one host. */
export async function diagnose(host: Host, request: DoctorRequest): Promise<DoctorReport> {
  validateRequest(request);
  const started = Date.now();
  const w = newWalk(host, await readFacts(host), request);
  await walk(w);
  return buildReport(w, Date.now() - started);
}

/** Throws on a request that cannot be diagnosed at all (bad addresses, a port without TCP). */
export function validateRequest(request: DoctorRequest): void {
  for (const [field, e] of [
    ["from", request.from],
    ["to", request.to],
  ] as const) {
    if (e.address !== undefined && !isIpv4(e.address)) {
      throw new Error(
        `${field}.address must be an IPv4 address, got ${JSON.stringify(e.address)} (IPv6 is not diagnosed yet)`,
      );
    }
  }
  if (request.to.address === undefined && request.to.namespace === undefined) {
    throw new Error("to: give an address, a namespace, or both");
  }
  if (
    request.port !== undefined &&
    !(Number.isInteger(request.port) && request.port >= 1 && request.port <= 65535)
  ) {
    throw new Error(`port must be an integer from 1 to 65535, got ${request.port}`);
  }
  if (request.protocol === "tcp" && request.port === undefined)
    throw new Error("a TCP probe needs a port");
}

/** The families in the order a packet meets them; each returns false (or "stop") where the path breaks. */
export async function walk(w: WalkState): Promise<void> {
  if (!checkSourceNamespace(w)) return;
  if (!resolveDestination(w)) return;
  const start = await sourceHop(w);
  if (!start) return;
  await walkOn(w, w.srcNs, start.dev, start.route, undefined);
}

/**
 * From `dev` in `ns` onward, segment by segment and router by router, to the
 * destination or off the host; then the whole-path checks and the probe.
 */
export async function walkOn(
  w: WalkState,
  from: string | undefined,
  firstDev: Link,
  firstRoute: RouteGet,
  firstIif: Link | undefined,
): Promise<void> {
  let dev = firstDev;
  let route = firstRoute;
  let ns = from;
  let iif = firstIif;
  const visited = new Set<string>();
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const key = `${ns ?? ""}/${dev.name}`;
    if (visited.has(key)) {
      record(
        w,
        "fail",
        "route",
        ns,
        `the path does not loop`,
        `the walk came back to ${dev.name} in ${nsLabel(ns)}: a routing loop`,
      );
      return;
    }
    visited.add(key);
    const step = await crossSegment(w, ns, dev, route, iif);
    if (step === "stop") return;
    if (step === "egress") {
      egress(w, ns, dev, hop);
      break;
    }
    ns = step.link.namespace;
    iif = step.link;
    if (ownsDestination(w, ns)) {
      w.path.push({
        namespace: ns,
        in: iif.name,
        ...(step.bridge ? { bridge: step.bridge } : {}),
        note: "destination",
      });
      if (!(await arrive(w, ns, iif))) return;
      break;
    }
    const next = await routerHop(w, ns, iif, step.bridge);
    if (!next) return;
    dev = next.dev;
    route = next.route;
    if (hop === MAX_HOPS - 1) {
      record(
        w,
        "warn",
        "route",
        ns,
        "the path ends within a few hops",
        `gave up after ${MAX_HOPS} namespaces`,
      );
    }
  }
  if (w.failed) return;
  checkMtu(w);
  if (w.failed) return;
  await checkConflicts(w);
  if (w.failed) return;
  if (w.request.noProbe) return;
  await probe(w);
}

export type { Endpoint };
