/**
 * The walk's state, made explicit: one object that every family of checks
 * receives, reads and adds to. What the host is (`facts`) never changes; the
 * endpoints are resolved by the first checks; the rest is what the walk has
 * recorded so far (checks, path, segments crossed), in the order the packet
 * meets it.
 */

import type { Host } from "../transport";
import type { HostFacts } from "./facts";
import type { Segment } from "./logic";
import { fixText } from "./fixes";
import {
  type CheckStatus,
  type DoctorCheck,
  type DoctorReport,
  type DoctorRequest,
  type PathHop,
  nsLabel,
} from "./types";
import type { Link, World } from "./world";

/** The order checks appear in; after a failure, the ones not reached are listed as skipped. */
export const CHECK_ORDER = [
  "source.namespace",
  "destination",
  "source.interface",
  "source.address",
  "link.down",
  "link.address",
  "route.rule",
  "route",
  "iptables.output",
  "nft.output",
  "veth.peer",
  "veth.peer.up",
  "bridge.up",
  "bridge.port",
  "bridge.port.state",
  "route.gateway",
  "vxlan.fdb",
  "nexthop.link",
  "nft.bridge",
  "neigh.arp",
  "neigh.nft",
  "neigh.ignore",
  "neigh.filter",
  "neigh.static",
  "forwarding",
  "iptables.forward",
  "nft.forward",
  "nat.masquerade",
  "rp_filter",
  "iptables.input",
  "nft.input",
  "route.reply",
  "mtu",
  "address.conflict",
  "neigh.failed",
  "probe",
] as const;

/** The links the path crossed on one L2 segment (for the MTU check). */
export interface Crossing {
  readonly segment: string;
  readonly links: readonly Link[];
}

/** Everything the checks share. */
export interface WalkState {
  /** The host, for the commands that cannot be batched (`ip route get`, evidence, the probe). */
  readonly host: Host;
  readonly request: DoctorRequest;
  /** The host's state, read once before the walk. */
  readonly facts: HostFacts;
  /** `facts.world`, for short. */
  readonly world: World;
  readonly proto: "icmp" | "tcp";

  // The endpoints: set by the endpoint and source checks.
  /** The source namespace (undefined: the host's own). */
  readonly srcNs: string | undefined;
  /** The address the source sends from; "" until known. */
  srcAddr: string;
  /** The destination address. */
  dst: string;
  /** The namespace holding the destination, when it is on this host. */
  dstNs: string | undefined;
  dstOnHost: boolean;
  /** The interface the source sends by (its MTU sizes the full-size probe). */
  firstDev?: Link;

  // What the walk recorded.
  readonly checks: DoctorCheck[];
  readonly path: PathHop[];
  /** Every L2 segment the path crossed (for the address conflict check). */
  readonly segments: Segment[];
  readonly crossings: Crossing[];
  /** Addresses the path depends on: a duplicate of one of these breaks it. */
  readonly pathAddresses: Set<string>;
  /** True once a check failed: the walk stops. */
  failed: boolean;
  /**
   * Across hosts: the name of another host the doctor can reach that holds
   * this address (the next hop where the path leaves this host), if any.
   */
  onward?: (address: string) => string | undefined;
  /** Set where the path leaves this host masqueraded: the source address the next host sees. */
  natSource?: string;
}

/** A fresh state for a request on a host whose facts were read. */
export function newWalk(host: Host, facts: HostFacts, request: DoctorRequest): WalkState {
  return {
    host,
    request,
    facts,
    world: facts.world,
    proto: request.protocol ?? (request.port !== undefined ? "tcp" : "icmp"),
    srcNs: request.from.namespace,
    srcAddr: "",
    dst: "",
    dstNs: undefined,
    dstOnHost: false,
    checks: [],
    path: [],
    segments: [],
    crossings: [],
    pathAddresses: new Set(),
    failed: false,
  };
}

/**
 * Records one check. `where` undefined is the host's own namespace; `null`
 * is no namespace at all (a check of the whole path).
 */
export function record(
  w: WalkState,
  status: CheckStatus,
  id: string,
  where: string | undefined | null,
  title: string,
  evidence: string,
  fixCommands?: string[][],
): void {
  const check: DoctorCheck = {
    id,
    title,
    status,
    ...(where !== null ? { where: nsLabel(where) } : {}),
    evidence: evidence.trim(),
    ...(fixCommands && fixCommands.length > 0 ? { fix: fixText(fixCommands), fixCommands } : {}),
  };
  w.checks.push(check);
  if (status === "fail") w.failed = true;
}

/** Records a check that holds. */
export function pass(
  w: WalkState,
  id: string,
  where: string | undefined | null,
  title: string,
  evidence: string,
): void {
  record(w, "ok", id, where, title, evidence);
}

/** The report of a finished walk: after a failure, the checks not reached are listed as skipped. */
export function buildReport(w: WalkState, durationMs: number): DoctorReport {
  const checks = [...w.checks];
  const seen = new Set(checks.map((c) => c.id));
  const failedAt = checks.find((c) => c.status === "fail");
  if (failedAt) {
    // What the walk would have looked at next; checks that do not apply to this path are not listed.
    const next = CHECK_ORDER.slice(
      CHECK_ORDER.indexOf(failedAt.id as (typeof CHECK_ORDER)[number]) + 1,
    );
    for (const id of next) {
      if (!seen.has(id)) {
        checks.push({
          id,
          title: id,
          status: "skip",
          evidence: "not checked: the path is already broken above",
        });
      }
    }
  }
  const firstFailure = checks.find((c) => c.status === "fail");
  return {
    host: w.host.name,
    request: w.request,
    source: { namespace: w.srcNs, address: w.srcAddr || undefined },
    destination: { namespace: w.dstNs, address: w.dst, onHost: w.dstOnHost },
    path: w.path,
    checks,
    healthy: firstFailure === undefined,
    ...(firstFailure ? { firstFailure } : {}),
    durationMs,
  };
}
