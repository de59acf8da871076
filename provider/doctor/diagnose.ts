/**
 * `diagnose`: why can't A reach B, hop by hop. It reads the kernel's state of
 * every namespace on the host (one host snapshot), then follows the path the kernel would take
 * (`ip route get` in each namespace the packet passes), checking each point
 * in order and stopping at the first broken one, with the kernel's evidence
 * and a command that would fix it. Last, when nothing is broken, a real probe.
 *
 * It reads and probes; it never changes the host.
 */

import type { Host } from "../transport";
import { quoteArgv } from "../transport/quote";
import { inNamespace, ipArgv, parseJsonList } from "../host/ip";
import { iptablesArgv } from "../host/iptables";
import {
  type CheckStatus,
  type DoctorCheck,
  type DoctorReport,
  type DoctorRequest,
  type Endpoint,
  type PathHop,
  nsLabel,
} from "./types";
import {
  type Inet,
  type Link,
  type World,
  adminUp,
  findLink,
  hasCarrier,
  inNetwork,
  isIpv4,
  isPrivate,
  linkByMac,
  namespaceOf,
  networkOf,
  vethPeer,
} from "./world";
import { type HostFacts, readFacts } from "./facts";
import { type Packet, type RuleTable, doubtfulRules, evaluateChain } from "./netfilter";
import {
  type Segment,
  bridgeSegment,
  candidateGateways,
  chooseKeeper,
  duplicateAddresses,
  guessVethNames,
  mtuMismatches,
  rpFilterMode,
} from "./logic";

/** The order checks appear in; after a failure, the ones not reached are listed as skipped. */
export const CHECK_ORDER = [
  "source.namespace",
  "destination",
  "source.interface",
  "source.address",
  "route",
  "iptables.output",
  "veth.peer",
  "veth.peer.up",
  "bridge.up",
  "bridge.port",
  "bridge.port.state",
  "route.gateway",
  "nexthop.link",
  "forwarding",
  "iptables.forward",
  "nat.masquerade",
  "rp_filter",
  "iptables.input",
  "route.reply",
  "mtu",
  "address.conflict",
  "probe",
] as const;

/** A route as `ip -json route get` reports it. */
export interface RouteGet {
  readonly type?: string;
  readonly dst: string;
  readonly from?: string;
  readonly gateway?: string;
  readonly dev: string;
  readonly prefsrc?: string;
  readonly iif?: string;
}

/** A route as `ip route get` prints it: `10.1.2.3 via 10.0.0.254 dev veth-blue src 10.0.0.1`. Pure. */
export function routeLine(r: RouteGet): string {
  return [
    r.type && r.type !== "unicast" ? r.type : undefined,
    r.dst,
    r.from ? `from ${r.from}` : undefined,
    r.gateway ? `via ${r.gateway}` : undefined,
    `dev ${r.dev}`,
    r.prefsrc ? `src ${r.prefsrc}` : undefined,
    r.iif ? `iif ${r.iif}` : undefined,
  ]
    .filter(Boolean)
    .join(" ");
}

const MAX_HOPS = 8;

/** Diagnoses the path from `request.from` to `request.to` on one host. */
export async function diagnose(host: Host, request: DoctorRequest): Promise<DoctorReport> {
  validateRequest(request);
  const started = Date.now();
  const walk = new Walk(host, await readFacts(host), request);
  await walk.run();
  return walk.report(Date.now() - started);
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

interface Crossing {
  readonly segment: string;
  readonly links: readonly Link[];
}

class Walk {
  private readonly checks: DoctorCheck[] = [];
  private readonly path: PathHop[] = [];
  private readonly segments: Segment[] = [];
  private readonly crossings: Crossing[] = [];
  private failed = false;
  private srcNs: string | undefined;
  private srcAddr = "";
  private dst = "";
  private dstNs: string | undefined;
  private dstOnHost = false;
  private proto: "icmp" | "tcp";
  /** Addresses the path depends on: a duplicate of one of these breaks it. */
  private readonly pathAddresses = new Set<string>();
  private firstDev?: Link;
  private readonly world: World;

  constructor(
    private readonly host: Host,
    private readonly facts: HostFacts,
    private readonly request: DoctorRequest,
  ) {
    this.world = facts.world;
    this.srcNs = request.from.namespace;
    this.proto = request.protocol ?? (request.port !== undefined ? "tcp" : "icmp");
  }

  // -- recording ------------------------------------------------------------------------

  private add(
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
      ...(fixCommands && fixCommands.length > 0
        ? { fix: fixCommands.map((c) => quoteArgv(c)).join(" && "), fixCommands }
        : {}),
    };
    this.checks.push(check);
    if (status === "fail") this.failed = true;
  }

  private ok(id: string, where: string | undefined | null, title: string, evidence: string): void {
    this.add("ok", id, where, title, evidence);
  }

  report(durationMs: number): DoctorReport {
    const seen = new Set(this.checks.map((c) => c.id));
    const failedAt = this.checks.find((c) => c.status === "fail");
    if (failedAt) {
      // What the walk would have looked at next; checks that do not apply to this path are not listed.
      const next = CHECK_ORDER.slice(
        CHECK_ORDER.indexOf(failedAt.id as (typeof CHECK_ORDER)[number]) + 1,
      );
      for (const id of next) {
        if (!seen.has(id)) {
          this.checks.push({
            id,
            title: id,
            status: "skip",
            evidence: "not checked: the path is already broken above",
          });
        }
      }
    }
    const firstFailure = this.checks.find((c) => c.status === "fail");
    return {
      host: this.host.name,
      request: this.request,
      source: { namespace: this.srcNs, address: this.srcAddr || undefined },
      destination: { namespace: this.dstNs, address: this.dst, onHost: this.dstOnHost },
      path: this.path,
      checks: this.checks,
      healthy: firstFailure === undefined,
      ...(firstFailure ? { firstFailure } : {}),
      durationMs,
    };
  }

  // -- commands -----------------------------------------------------------------------

  /** The command and what it printed, as evidence. */
  private async evidence(argv: string[]): Promise<string> {
    const r = await this.host.run(argv);
    const out = [r.stdout.trim(), r.stderr.trim()].filter(Boolean).join("\n");
    return `$ ${quoteArgv(argv)}\n${clip(out || `(no output, exit ${r.exitCode})`)}`;
  }

  /** Like {@link evidence}, with a trailing newline, or "" when the command printed nothing. */
  private async evidenceIfAny(argv: string[]): Promise<string> {
    const r = await this.host.run(argv);
    const out = [r.stdout.trim(), r.stderr.trim()].filter(Boolean).join("\n");
    return out ? `$ ${quoteArgv(argv)}\n${clip(out)}\n` : "";
  }

  private async routeGet(
    ns: string | undefined,
    dst: string,
    opts: { from?: string; iif?: string } = {},
  ): Promise<{ route?: RouteGet; argv: string[]; said: string }> {
    const args = [
      "route",
      "get",
      dst,
      ...(opts.from ? ["from", opts.from] : []),
      ...(opts.iif ? ["iif", opts.iif] : []),
    ];
    // The evidence shows the command as a person would type it; the answer is read as JSON.
    const argv = ipArgv(ns, ...args);
    const r = await this.host.run(ipArgv(ns, "-json", ...args));
    if (r.exitCode !== 0) return { argv, said: r.stderr.trim() || `exit ${r.exitCode}` };
    const route = parseJsonList<RouteGet>(r.stdout)[0];
    return { route, argv, said: route ? routeLine(route) : r.stdout.trim() };
  }

  private async table(ns: string | undefined, name: "filter" | "nat"): Promise<RuleTable | string> {
    return this.facts.table(ns, name);
  }

  private async sysctl(ns: string | undefined, name: string): Promise<string | undefined> {
    return this.facts.sysctl(ns, name.replace(/\./g, "/"));
  }

  private async ipForward(ns: string | undefined): Promise<boolean> {
    return this.facts.ipForward(ns);
  }

  // -- the walk -----------------------------------------------------------------------

  async run(): Promise<void> {
    if (!this.checkSourceNamespace()) return;
    if (!this.resolveDestination()) return;
    const start = await this.sourceHop();
    if (!start) return;
    let { dev, route } = start;
    let ns = this.srcNs;
    let iif: Link | undefined;
    const visited = new Set<string>();
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      const key = `${ns ?? ""}/${dev.name}`;
      if (visited.has(key)) {
        this.add(
          "fail",
          "route",
          ns,
          `the path does not loop`,
          `the walk came back to ${dev.name} in ${nsLabel(ns)}: a routing loop`,
        );
        return;
      }
      visited.add(key);
      const step = await this.crossSegment(ns, dev, route, iif, hop);
      if (step === "stop") return;
      if (step === "egress") {
        await this.egress(ns, dev, hop);
        break;
      }
      ns = step.link.namespace;
      iif = step.link;
      if (this.ownsDestination(ns)) {
        this.path.push({
          namespace: ns,
          in: iif.name,
          ...(step.bridge ? { bridge: step.bridge } : {}),
          note: "destination",
        });
        if (!(await this.arrive(ns, iif))) return;
        break;
      }
      const next = await this.routerHop(ns, iif, step.bridge);
      if (!next) return;
      dev = next.dev;
      route = next.route;
      if (hop === MAX_HOPS - 1) {
        this.add(
          "warn",
          "route",
          ns,
          "the path ends within a few hops",
          `gave up after ${MAX_HOPS} namespaces`,
        );
      }
    }
    if (this.failed) return;
    await this.checkMtu();
    if (this.failed) return;
    await this.checkConflicts();
    if (this.failed) return;
    if (this.request.noProbe) return;
    await this.probe();
  }

  private checkSourceNamespace(): boolean {
    const ns = this.srcNs;
    const names = this.world.namespaces.filter((n) => n.name !== undefined).map((n) => n.name);
    if (ns !== undefined && !namespaceOf(this.world, ns)) {
      this.add(
        "fail",
        "source.namespace",
        ns,
        `namespace ${ns} exists`,
        `$ ip netns list\n${names.join("\n") || "(none)"}\n${ns} is not among them`,
      );
      return false;
    }
    this.ok(
      "source.namespace",
      ns,
      ns ? `namespace ${ns} exists` : "the source is the host's own namespace",
      ns ? `ip netns list: ${names.join(", ")}` : "no namespace given",
    );
    return true;
  }

  private resolveDestination(): boolean {
    const want = this.request.to;
    if (want.namespace !== undefined) {
      const state = namespaceOf(this.world, want.namespace);
      if (!state) {
        const names = this.world.namespaces.filter((n) => n.name).map((n) => n.name);
        this.add(
          "fail",
          "destination",
          want.namespace,
          `namespace ${want.namespace} exists`,
          `$ ip netns list\n${names.join("\n") || "(none)"}\n${want.namespace} is not among them`,
        );
        return false;
      }
      const addrs = state.links
        .filter((l) => !isLoopback(l))
        .flatMap((l) => l.inet.map((a) => ({ link: l, a })));
      if (want.address !== undefined) {
        if (!state.links.some((l) => l.inet.some((a) => a.address === want.address))) {
          this.add(
            "fail",
            "destination",
            want.namespace,
            `${want.address} is an address in ${want.namespace}`,
            `${want.namespace} has ${addrs.map(({ link, a }) => `${a.address}/${a.prefixlen} on ${link.name}`).join(", ") || "no IPv4 address"}`,
          );
          return false;
        }
        this.dst = want.address;
      } else {
        const pick = addrs.find(({ link }) => adminUp(link)) ?? addrs[0];
        if (!pick) {
          this.add(
            "fail",
            "destination",
            want.namespace,
            `${want.namespace} has an IPv4 address to reach`,
            `${want.namespace} has no IPv4 address on any interface but lo`,
          );
          return false;
        }
        this.dst = pick.a.address;
      }
      this.dstNs = want.namespace;
      this.dstOnHost = true;
      this.ok(
        "destination",
        want.namespace,
        `${this.dst} is in ${want.namespace}`,
        addrs.map(({ link, a }) => `${link.name} ${a.address}/${a.prefixlen}`).join(", "),
      );
      return true;
    }
    this.dst = want.address!;
    const owners = this.world.namespaces.flatMap((n) =>
      n.links.filter((l) => l.inet.some((a) => a.address === this.dst)),
    );
    if (owners.length > 0) {
      this.dstOnHost = true;
      this.dstNs = owners[0]!.namespace;
      this.ok(
        "destination",
        this.dstNs,
        `${this.dst} is on this host`,
        owners.map((l) => `${l.name} in ${nsLabel(l.namespace)}`).join(", "),
      );
    } else {
      this.ok(
        "destination",
        null,
        `${this.dst} is beyond this host`,
        `no interface in any namespace of ${this.host.name} has ${this.dst}: the path must leave the host`,
      );
    }
    this.pathAddresses.add(this.dst);
    return true;
  }

  private ownsDestination(ns: string | undefined): boolean {
    return (namespaceOf(this.world, ns)?.links ?? []).some((l) =>
      l.inet.some((a) => a.address === this.dst),
    );
  }

  /** The source namespace: its interface, address, route and OUTPUT chain. */
  private async sourceHop(): Promise<{ dev: Link; route: RouteGet } | undefined> {
    const ns = this.srcNs;
    const state = namespaceOf(this.world, ns)!;
    const links = state.links.filter((l) => !isLoopback(l));
    const from = this.request.from.address;
    const got = await this.routeGet(ns, this.dst, { from });
    if (from) this.srcAddr = from;

    if (links.length === 0) {
      const fix = this.guessVethFix(ns, from);
      this.add(
        "fail",
        "source.interface",
        ns,
        `${nsLabel(ns)} has an interface besides lo`,
        `${await this.evidence(ipArgv(ns, "-br", "link", "show"))}\nonly the loopback is left: the veth end is missing (deleting either end of a veth pair deletes both)` +
          (fix
            ? ""
            : from
              ? `\nno bridge on this host carries ${from}'s network, so the fix cannot be guessed`
              : `\ngive the source address (--from ${ns}/ADDRESS) for a suggested fix`),
        fix,
      );
      return undefined;
    }
    const routed = got.route ? findLink(this.world, ns, got.route.dev) : undefined;
    const withFrom = from ? links.find((l) => l.inet.some((a) => a.address === from)) : undefined;
    const chosen =
      routed ??
      withFrom ??
      links.find((l) => !adminUp(l)) ??
      links.find((l) => l.inet.length > 0) ??
      links[0]!;
    if (!adminUp(chosen)) {
      this.add(
        "fail",
        "source.interface",
        ns,
        `${chosen.name} in ${nsLabel(ns)} is UP`,
        await this.evidence(ipArgv(ns, "link", "show", "dev", chosen.name)),
        [ipArgv(ns, "link", "set", "dev", chosen.name, "up")],
      );
      return undefined;
    }
    this.ok(
      "source.interface",
      ns,
      `${chosen.name} in ${nsLabel(ns)} exists and is UP`,
      linkLine(chosen),
    );

    if (got.route?.type === "local") {
      this.srcAddr = from ?? this.dst;
      this.ok("source.address", ns, `${this.dst} is local to ${nsLabel(ns)}`, got.said);
      this.ok(
        "route",
        ns,
        `the kernel delivers ${this.dst} locally`,
        `$ ${quoteArgv(got.argv)}\n${got.said}`,
      );
      return undefined;
    }
    if (from !== undefined && !state.links.some((l) => l.inet.some((a) => a.address === from))) {
      const inet = this.guessPrefix(chosen, from);
      this.add(
        "fail",
        "source.address",
        ns,
        `${from} is an address in ${nsLabel(ns)}`,
        `${await this.evidence(ipArgv(ns, "-br", "addr", "show"))}\n${from} is on no interface`,
        inet ? [ipArgv(ns, "addr", "add", `${from}/${inet}`, "dev", chosen.name)] : undefined,
      );
      return undefined;
    }
    if (chosen.inet.length === 0 && !got.route) {
      this.add(
        "fail",
        "source.address",
        ns,
        `${chosen.name} in ${nsLabel(ns)} has an IPv4 address`,
        await this.evidence(ipArgv(ns, "addr", "show", "dev", chosen.name)),
      );
      return undefined;
    }
    if (!got.route) {
      const fix = await this.guessRouteFix(ns, chosen, "add", "default");
      this.add(
        "fail",
        "route",
        ns,
        `${nsLabel(ns)} has a route to ${this.dst}`,
        `$ ${quoteArgv(got.argv)}\n${got.said}\n${await this.evidence(ipArgv(ns, "route", "show"))}`,
        fix,
      );
      return undefined;
    }
    this.srcAddr = from ?? got.route.prefsrc ?? chosen.inet[0]?.address ?? "";
    this.pathAddresses.add(this.srcAddr);
    const dev = findLink(this.world, ns, got.route.dev)!;
    this.firstDev = dev;
    this.ok(
      "source.address",
      ns,
      `${nsLabel(ns)} sends from ${this.srcAddr}`,
      dev.inet.map((a) => `${a.address}/${a.prefixlen}`).join(", ") + ` on ${dev.name}`,
    );
    this.ok(
      "route",
      ns,
      `${nsLabel(ns)} routes ${this.dst} ${got.route.gateway ? `via ${got.route.gateway}` : "directly"} on ${dev.name}`,
      `$ ${quoteArgv(got.argv)}\n${got.said}`,
    );
    if (
      !(await this.checkChain(
        ns,
        "OUTPUT",
        { oif: dev.name, src: this.srcAddr, dst: this.dst },
        "iptables.output",
      ))
    ) {
      return undefined;
    }
    return { dev, route: got.route };
  }

  /**
   * From `dev` in `ns` across one L2 segment (a veth pair, or a bridge) to the
   * link that holds the next hop. Returns that link, "egress" when the path
   * leaves the host here, or "stop" on a failure.
   */
  private async crossSegment(
    ns: string | undefined,
    dev: Link,
    route: RouteGet,
    iif: Link | undefined,
    hop: number,
  ): Promise<{ link: Link; bridge?: string } | "egress" | "stop"> {
    const nexthop = route.gateway ?? this.dst;
    if (route.gateway) this.pathAddresses.add(route.gateway);
    this.path.push({
      namespace: ns,
      ...(iif ? { in: iif.name } : {}),
      out: dev.name,
      ...(route.gateway ? { via: route.gateway } : {}),
    });
    let segment: Segment;
    let entryPort: Link | undefined;
    if (dev.kind === "bridge") {
      // The namespace sends into a bridge it holds itself: up, or the route would not exist.
      this.ok("bridge.up", ns, `bridge ${dev.name} (${nsLabel(ns)}) is UP`, linkLine(dev));
      segment = bridgeSegment(this.world, dev);
    } else if (dev.kind === "veth") {
      const peer = vethPeer(this.world, dev);
      if (peer === "unknown" || peer === undefined) {
        if (!hasCarrier(dev)) {
          this.add(
            "fail",
            "veth.peer",
            ns,
            `the peer of ${dev.name} is UP`,
            `${await this.evidence(ipArgv(ns, "link", "show", "dev", dev.name))}\n${dev.name} has no carrier and its peer is in a namespace with no name here (netnsid ${dev.peerNetnsid})`,
          );
          return "stop";
        }
        this.ok(
          "veth.peer",
          ns,
          `${dev.name} leads off the host (its peer is in a namespace with no name here)`,
          `its peer (ifindex ${dev.peerIfindex}, netnsid ${dev.peerNetnsid}) is in a namespace that has no name here`,
        );
        return "egress";
      }
      this.ok(
        "veth.peer",
        peer.namespace,
        `${dev.name}'s peer is ${peer.name} in ${nsLabel(peer.namespace)}`,
        `${dev.name}: ifindex ${dev.ifindex}, peer ifindex ${dev.peerIfindex}${dev.peerNetnsid !== undefined ? ` in netnsid ${dev.peerNetnsid}` : ""}; ${peer.name}: ifindex ${peer.ifindex}`,
      );
      if (!adminUp(peer)) {
        this.add(
          "fail",
          "veth.peer.up",
          peer.namespace,
          `${peer.name} (${nsLabel(peer.namespace)}), the peer of ${dev.name}, is UP`,
          `${await this.evidence(ipArgv(peer.namespace, "link", "show", "dev", peer.name))}\n${dev.name} in ${nsLabel(ns)} has no carrier while its peer is down`,
          [ipArgv(peer.namespace, "link", "set", "dev", peer.name, "up")],
        );
        return "stop";
      }
      this.ok(
        "veth.peer.up",
        peer.namespace,
        `${peer.name} (${nsLabel(peer.namespace)}) is UP`,
        linkLine(peer),
      );
      if (peer.master) {
        const bridge = findLink(this.world, peer.namespace, peer.master);
        if (!bridge || bridge.kind !== "bridge") {
          this.ok(
            "bridge.up",
            peer.namespace,
            `${peer.name} is enslaved to ${peer.master}`,
            `${peer.master} is a ${bridge?.kind ?? "plain"} link`,
          );
          segment = {
            kind: "direct",
            label: `${peer.name}`,
            namespace: peer.namespace,
            members: [{ link: peer }],
            external: [],
          };
        } else {
          if (!(await this.checkBridgePort(bridge, peer))) return "stop";
          segment = bridgeSegment(this.world, bridge);
          entryPort = peer;
        }
      } else if (peer.inet.some((a) => a.address === nexthop)) {
        segment = {
          kind: "direct",
          label: `${dev.name}–${peer.name}`,
          namespace: peer.namespace,
          members: [{ link: peer }],
          external: [],
        };
      } else {
        const bridge = this.bridgeFor(peer.namespace, nexthop);
        if (bridge) {
          this.add(
            "fail",
            "bridge.port",
            peer.namespace,
            `${peer.name} is a port of ${bridge.name}`,
            `${await this.evidence(ipArgv(peer.namespace, "-d", "link", "show", "dev", peer.name))}\n${peer.name} has no master; ${bridge.name} in ${nsLabel(bridge.namespace)} is where ${nexthop} lives`,
            [ipArgv(peer.namespace, "link", "set", "dev", peer.name, "master", bridge.name)],
          );
          return "stop";
        }
        segment = {
          kind: "direct",
          label: `${dev.name}–${peer.name}`,
          namespace: peer.namespace,
          members: [{ link: peer }],
          external: [],
        };
      }
    } else {
      return "egress";
    }
    this.segments.push(segment);

    const owners = segment.members.filter(
      (m) => m.link !== dev && m.link.inet.some((a) => a.address === nexthop),
    );
    const where =
      segment.kind === "bridge" ? `${segment.label}'s segment` : `the other end of ${dev.name}`;
    if (owners.length === 0) {
      if (segment.external.length > 0) {
        this.add(
          "warn",
          "route.gateway",
          segment.namespace,
          `${nexthop} is on ${where}`,
          `no interface on this host has ${nexthop}; ${segment.label} has ports that lead off the host (${segment.external.join(", ")}): it may be out there`,
        );
        return hop === 0 ? "egress" : "egress";
      }
      const present = segment.members
        .filter((m) => m.link !== dev)
        .flatMap((m) =>
          m.link.inet.map((a) => `${a.address} (${m.link.name} in ${nsLabel(m.link.namespace)})`),
        );
      if (route.gateway) {
        const fix = await this.guessRouteFix(ns, dev, "replace", undefined, route.gateway);
        this.add(
          "fail",
          "route.gateway",
          ns,
          `the gateway ${route.gateway} is on ${where}`,
          `$ ${quoteArgv(ipArgv(ns, "route", "get", this.dst))}\n${routeLine(route)}\n` +
            (await this.evidenceIfAny(ipArgv(ns, "neigh", "show", route.gateway))) +
            `no interface on ${where} holds ${route.gateway}; there: ${present.join(", ") || "nothing"}`,
          fix,
        );
      } else {
        this.add(
          "fail",
          "route.gateway",
          ns,
          `${this.dst} is on ${where}`,
          `${nsLabel(ns)} treats ${this.dst} as on-link via ${dev.name}, but no interface there holds it; there: ${present.join(", ") || "nothing"}`,
        );
      }
      return "stop";
    }
    const keeper = chooseKeeper(owners, {
      dst: this.dst,
      dstNs: this.dstNs,
      src: this.srcAddr,
      srcNs: this.srcNs,
    });
    this.ok(
      "route.gateway",
      keeper.link.namespace,
      `${nexthop} is on ${where}`,
      `${nexthop} is ${keeper.link.name} in ${nsLabel(keeper.link.namespace)}`,
    );

    if (!(await this.checkFarSide(keeper.link, keeper.port, segment))) return "stop";

    if (segment.kind === "bridge" && entryPort && keeper.port) {
      if (!(await this.checkBridged(segment, entryPort, keeper.port))) return "stop";
    }
    const crossed = [dev, entryPort, keeper.port, keeper.link].filter(
      (l): l is Link => l !== undefined,
    );
    this.crossings.push({ segment: segment.label, links: unique(crossed) });
    return { link: keeper.link, ...(segment.kind === "bridge" ? { bridge: segment.label } : {}) };
  }

  private async checkBridgePort(bridge: Link, port: Link): Promise<boolean> {
    const ns = bridge.namespace;
    if (!adminUp(bridge)) {
      this.add(
        "fail",
        "bridge.up",
        ns,
        `bridge ${bridge.name} (${nsLabel(ns)}) is UP`,
        await this.evidence(ipArgv(ns, "link", "show", "dev", bridge.name)),
        [ipArgv(ns, "link", "set", "dev", bridge.name, "up")],
      );
      return false;
    }
    this.ok("bridge.up", ns, `bridge ${bridge.name} (${nsLabel(ns)}) is UP`, linkLine(bridge));
    this.ok(
      "bridge.port",
      ns,
      `${port.name} is a port of ${bridge.name}`,
      `${port.name} master ${bridge.name}`,
    );
    if (port.portState !== undefined && port.portState !== "forwarding") {
      const stp = port.portState === "listening" || port.portState === "learning";
      this.add(
        stp ? "warn" : "fail",
        "bridge.port.state",
        ns,
        `${port.name} forwards on ${bridge.name}`,
        `${await this.evidence(inNamespace(ns, ["bridge", "link", "show", "dev", port.name]))}` +
          (stp ? "\nSTP is still deciding: it forwards after the forward delay" : ""),
        stp
          ? undefined
          : [inNamespace(ns, ["bridge", "link", "set", "dev", port.name, "state", "3"])],
      );
      return stp;
    }
    this.ok(
      "bridge.port.state",
      ns,
      `${port.name} forwards on ${bridge.name}`,
      `state ${port.portState ?? "forwarding"}`,
    );
    return true;
  }

  /** The link that holds the next hop can take the packet: it is up, and so is the way to it on the bridge. */
  private async checkFarSide(
    link: Link,
    port: Link | undefined,
    segment: Segment,
  ): Promise<boolean> {
    const ns = link.namespace;
    if (!adminUp(link)) {
      this.add(
        "fail",
        "nexthop.link",
        ns,
        `${link.name} in ${nsLabel(ns)} is UP`,
        await this.evidence(ipArgv(ns, "link", "show", "dev", link.name)),
        [ipArgv(ns, "link", "set", "dev", link.name, "up")],
      );
      return false;
    }
    if (port) {
      const pns = port.namespace;
      if (!adminUp(port)) {
        this.add(
          "fail",
          "nexthop.link",
          pns,
          `${port.name}, the way to ${link.name} on ${segment.label}, is UP`,
          await this.evidence(ipArgv(pns, "link", "show", "dev", port.name)),
          [ipArgv(pns, "link", "set", "dev", port.name, "up")],
        );
        return false;
      }
      if (port.portState !== undefined && port.portState !== "forwarding") {
        this.add(
          "fail",
          "nexthop.link",
          pns,
          `${port.name} forwards on ${segment.label}`,
          await this.evidence(inNamespace(pns, ["bridge", "link", "show", "dev", port.name])),
          [inNamespace(pns, ["bridge", "link", "set", "dev", port.name, "state", "3"])],
        );
        return false;
      }
    }
    this.ok(
      "nexthop.link",
      ns,
      `${link.name} in ${nsLabel(ns)} is UP${port ? ` and ${port.name} forwards` : ""}`,
      linkLine(link),
    );
    return true;
  }

  /** With br_netfilter, bridged IPv4 passes the FORWARD chain of the bridge's namespace. */
  private async checkBridged(segment: Segment, inPort: Link, outPort: Link): Promise<boolean> {
    const ns = segment.namespace;
    const bridge = segment.label;
    const sysctl = await this.sysctl(ns, "net.bridge.bridge-nf-call-iptables");
    const option = segment.bridge?.bridgeNfCallIptables === true;
    if (sysctl !== "1" && !option) {
      this.ok(
        "iptables.forward",
        ns,
        `bridged traffic on ${bridge} is not filtered by iptables`,
        sysctl === undefined
          ? "br_netfilter is not loaded (no /proc/sys/net/bridge)"
          : `net.bridge.bridge-nf-call-iptables = ${sysctl}`,
      );
      return true;
    }
    const why = `net.bridge.bridge-nf-call-iptables = ${sysctl ?? "(absent)"}, ${bridge} nf_call_iptables = ${option ? 1 : 0}: bridged IPv4 on ${bridge} passes the FORWARD chain of ${nsLabel(ns)}`;
    return this.checkForward(
      ns,
      { iif: bridge, oif: bridge, physIn: inPort.name, physOut: outPort.name },
      why,
      true,
    );
  }

  /** Evaluates FORWARD both ways: the first packet (NEW) and the reply (ESTABLISHED). */
  private async checkForward(
    ns: string | undefined,
    ifs: { iif: string; oif: string; physIn?: string; physOut?: string },
    why: string,
    bridged: boolean,
  ): Promise<boolean> {
    const table = await this.table(ns, "filter");
    if (typeof table === "string") {
      this.add(
        "warn",
        "iptables.forward",
        ns,
        `FORWARD in ${nsLabel(ns)} lets the path through`,
        `cannot read iptables: ${table}`,
      );
      return true;
    }
    const there: Packet = {
      ...this.packetBase(),
      iif: ifs.iif,
      oif: ifs.oif,
      physIn: ifs.physIn,
      physOut: ifs.physOut,
      ctstate: "NEW",
    };
    const back: Packet = {
      ...this.packetBase(),
      src: this.dst,
      dst: this.srcAddr,
      icmpType: 0,
      dport: undefined,
      iif: ifs.oif,
      oif: ifs.iif,
      physIn: ifs.physOut,
      physOut: ifs.physIn,
      ctstate: "ESTABLISHED",
    };
    const v1 = evaluateChain(table, "FORWARD", there);
    const v2 = evaluateChain(table, "FORWARD", back);
    const lines = table.chains.get("FORWARD") ?? [];
    const listing = [
      `-P FORWARD ${table.policies.get("FORWARD") ?? "ACCEPT"}`,
      ...lines.map((l) => l.text),
    ].join("\n");
    const title = bridged
      ? `FORWARD in ${nsLabel(ns)} lets bridged traffic through ${ifs.iif}`
      : `FORWARD in ${nsLabel(ns)} lets ${ifs.iif} → ${ifs.oif} through`;
    const blocked = [v1, v2]
      .map((v, i) => ({ v, dir: i === 0 ? "there" : "back" }))
      .filter(({ v }) => v.target !== "ACCEPT");
    if (blocked.length > 0) {
      const fix: string[][] = [];
      if (bridged) {
        fix.push(
          iptablesArgv(
            ns,
            "filter",
            "-I",
            "FORWARD",
            "1",
            "-i",
            ifs.iif,
            "-o",
            ifs.oif,
            "-j",
            "ACCEPT",
          ),
        );
      } else {
        if (v1.target !== "ACCEPT") {
          fix.push(
            iptablesArgv(
              ns,
              "filter",
              "-I",
              "FORWARD",
              "1",
              "-i",
              ifs.iif,
              "-o",
              ifs.oif,
              "-s",
              this.srcNetwork(),
              "-j",
              "ACCEPT",
            ),
          );
        }
        if (v2.target !== "ACCEPT") {
          fix.push(
            iptablesArgv(
              ns,
              "filter",
              "-I",
              "FORWARD",
              "1",
              "-i",
              ifs.oif,
              "-o",
              ifs.iif,
              "-m",
              "conntrack",
              "--ctstate",
              "RELATED,ESTABLISHED",
              "-j",
              "ACCEPT",
            ),
          );
        }
      }
      this.add(
        "fail",
        "iptables.forward",
        ns,
        title,
        `$ ${quoteArgv(iptablesArgv(ns, "filter", "-S", "FORWARD"))}\n${clip(listing)}\n${why}\n` +
          blocked
            .map(
              ({ v, dir }) =>
                `${dir === "there" ? `${this.srcAddr} → ${this.dst}` : `reply ${this.dst} → ${this.srcAddr}`}: ${v.target} by ${v.by}`,
            )
            .join("\n"),
        fix,
      );
      return false;
    }
    const doubts = [...doubtfulRules(v1), ...doubtfulRules(v2)];
    if (doubts.length > 0) {
      this.add(
        "warn",
        "iptables.forward",
        ns,
        title,
        `${why}\nACCEPT by ${v1.by}, but these rules use matches the doctor cannot evaluate and might decide otherwise:\n${unique(
          doubts,
        )
          .map((r) => r.text)
          .join("\n")}`,
      );
      return true;
    }
    this.ok(
      "iptables.forward",
      ns,
      title,
      `${why}\n${this.srcAddr} → ${this.dst}: ACCEPT by ${v1.by}; reply: ACCEPT by ${v2.by}`,
    );
    return true;
  }

  private packetBase(): Omit<Packet, "ctstate"> {
    return {
      src: this.srcAddr,
      dst: this.dst,
      proto: this.proto,
      dport: this.request.port,
      icmpType: 8,
    };
  }

  /** Evaluates one chain (OUTPUT at the source, INPUT at the destination) for the first packet. */
  private async checkChain(
    ns: string | undefined,
    chain: "OUTPUT" | "INPUT",
    fields: { iif?: string; oif?: string; src: string; dst: string },
    id: string,
  ): Promise<boolean> {
    const table = await this.table(ns, "filter");
    const title = `${chain} in ${nsLabel(ns)} lets ${fields.src} → ${fields.dst} through`;
    if (typeof table === "string") {
      this.add("warn", id, ns, title, `cannot read iptables: ${table}`);
      return true;
    }
    const v = evaluateChain(table, chain, { ...this.packetBase(), ...fields, ctstate: "NEW" });
    if (v.target !== "ACCEPT") {
      const iface = chain === "INPUT" ? ["-i", fields.iif!] : ["-o", fields.oif!];
      this.add(
        "fail",
        id,
        ns,
        title,
        `$ ${quoteArgv(iptablesArgv(ns, "filter", "-S", chain))}\n${clip([`-P ${chain} ${table.policies.get(chain) ?? "ACCEPT"}`, ...(table.chains.get(chain) ?? []).map((l) => l.text)].join("\n"))}\n${v.target} by ${v.by}`,
        [
          iptablesArgv(
            ns,
            "filter",
            "-I",
            chain,
            "1",
            ...iface,
            chain === "INPUT" ? "-s" : "-d",
            chain === "INPUT" ? fields.src : fields.dst,
            "-j",
            "ACCEPT",
          ),
        ],
      );
      return false;
    }
    this.ok(id, ns, title, `ACCEPT by ${v.by}`);
    return true;
  }

  /** A namespace that forwards: ip_forward, its route onward, FORWARD, rp_filter. */
  private async routerHop(
    ns: string | undefined,
    iif: Link,
    bridge: string | undefined,
  ): Promise<{ dev: Link; route: RouteGet } | undefined> {
    const fwd = await this.ipForward(ns);
    if (!fwd) {
      this.add(
        "fail",
        "forwarding",
        ns,
        `${nsLabel(ns)} forwards IPv4 (it routes ${this.srcAddr} → ${this.dst})`,
        `${await this.evidence(inNamespace(ns, ["sysctl", "net.ipv4.ip_forward"]))}\n${nsLabel(ns)} holds the next hop but not ${this.dst}: it must forward`,
        [inNamespace(ns, ["sysctl", "-w", "net.ipv4.ip_forward=1"])],
      );
      return undefined;
    }
    this.ok("forwarding", ns, `${nsLabel(ns)} forwards IPv4`, "net.ipv4.ip_forward = 1");
    const got = await this.routeGet(ns, this.dst);
    if (!got.route) {
      this.add(
        "fail",
        "route",
        ns,
        `${nsLabel(ns)} has a route to ${this.dst}`,
        `$ ${quoteArgv(got.argv)}\n${got.said}\n${await this.evidence(ipArgv(ns, "route", "show"))}`,
      );
      return undefined;
    }
    const dev = findLink(this.world, ns, got.route.dev);
    if (!dev) {
      this.add(
        "fail",
        "route",
        ns,
        `${nsLabel(ns)} routes ${this.dst} by an interface it has`,
        `$ ${quoteArgv(got.argv)}\n${got.said}`,
      );
      return undefined;
    }
    this.ok(
      "route",
      ns,
      `${nsLabel(ns)} routes ${this.dst} ${got.route.gateway ? `via ${got.route.gateway}` : "directly"} on ${dev.name}`,
      `$ ${quoteArgv(got.argv)}\n${got.said}`,
    );
    const inName = bridge ?? iif.name;
    if (
      !(await this.checkForward(
        ns,
        { iif: inName, oif: dev.name },
        `${nsLabel(ns)} routes between ${inName} and ${dev.name}`,
        false,
      ))
    ) {
      return undefined;
    }
    if (!(await this.checkRpFilter(ns, iif))) return undefined;
    return { dev, route: got.route };
  }

  /** Strict reverse-path filtering drops a packet whose source the namespace would reach by another interface. */
  private async checkRpFilter(ns: string | undefined, iif: Link): Promise<boolean> {
    const all = this.facts.sysctl(ns, "net/ipv4/conf/all/rp_filter");
    const one = this.facts.sysctl(ns, `net/ipv4/conf/${iif.name}/rp_filter`);
    const mode = rpFilterMode(all, one);
    const title = `reverse-path filtering in ${nsLabel(ns)} accepts ${this.srcAddr} on ${iif.name}`;
    const values = `rp_filter: all = ${all ?? "?"}, ${iif.name} = ${one ?? "?"} (the kernel uses the larger: ${["off", "strict", "loose"][mode]})`;
    if (mode === 0) {
      this.ok("rp_filter", ns, title, values);
      return true;
    }
    const back = await this.routeGet(ns, this.srcAddr);
    const kernel = await this.routeGet(ns, this.dst, { from: this.srcAddr, iif: iif.name });
    const backDev = back.route?.dev;
    const broken = mode === 1 ? backDev !== iif.name : back.route === undefined;
    if (broken) {
      this.add(
        "fail",
        "rp_filter",
        ns,
        title,
        `${values}\n$ ${quoteArgv(back.argv)}\n${back.said}\n` +
          (mode === 1
            ? `the route back to ${this.srcAddr} leaves by ${backDev ?? "nothing"}, not ${iif.name}: strict mode drops the packet\n`
            : "") +
          `$ ${quoteArgv(kernel.argv)}\n${kernel.said}`,
        [
          inNamespace(ns, [
            "sysctl",
            "-w",
            `net.ipv4.conf.${iif.name.replace(/\./g, "/")}.rp_filter=2`,
          ]),
        ],
      );
      return false;
    }
    this.ok(
      "rp_filter",
      ns,
      title,
      `${values}; the route back to ${this.srcAddr} is by ${backDev}`,
    );
    return true;
  }

  /** The destination namespace: rp_filter, INPUT, and a route back. */
  private async arrive(ns: string | undefined, iif: Link): Promise<boolean> {
    if (!(await this.checkRpFilter(ns, iif))) return false;
    if (
      !(await this.checkChain(
        ns,
        "INPUT",
        { iif: iif.name, src: this.srcAddr, dst: this.dst },
        "iptables.input",
      ))
    )
      return false;
    const back = await this.routeGet(ns, this.srcAddr, { from: this.dst });
    if (!back.route) {
      const prev = this.crossings.at(-1)?.links[0];
      const gw = prev?.inet.find((a) => iif.inet.some((b) => inNetwork(a.address, b)));
      this.add(
        "fail",
        "route.reply",
        ns,
        `${nsLabel(ns)} has a route back to ${this.srcAddr}`,
        `$ ${quoteArgv(back.argv)}\n${back.said}`,
        gw ? [ipArgv(ns, "route", "add", "default", "via", gw.address)] : undefined,
      );
      return false;
    }
    this.ok(
      "route.reply",
      ns,
      `${nsLabel(ns)} replies to ${this.srcAddr} ${back.route.gateway ? `via ${back.route.gateway}` : "directly"} on ${back.route.dev}`,
      `$ ${quoteArgv(back.argv)}\n${back.said}`,
    );
    return true;
  }

  /** The path leaves the host by `dev`: a private source needs NAT there. */
  private async egress(ns: string | undefined, dev: Link, hop: number): Promise<void> {
    const last = this.path.at(-1);
    if (last && last.namespace === ns && last.out === dev.name) {
      this.path[this.path.length - 1] = { ...last, note: "leaves the host" };
    } else {
      this.path.push({ namespace: ns, out: dev.name, note: "leaves the host" });
    }
    if (this.dstOnHost) {
      this.add(
        "fail",
        "route",
        ns,
        `the route to ${this.dst} stays on this host`,
        `${this.dst} is in ${nsLabel(this.dstNs)}, but ${nsLabel(ns)} sends it out by ${dev.name}`,
      );
      return;
    }
    if (hop === 0 && ns === this.srcNs) {
      this.ok(
        "nat.masquerade",
        ns,
        `no NAT is needed: ${nsLabel(ns)} sends from its own address`,
        `${this.srcAddr} leaves by ${dev.name} unchanged`,
      );
      return;
    }
    const table = await this.table(ns, "nat");
    const title = `${this.srcAddr} is masqueraded as it leaves ${nsLabel(ns)} by ${dev.name}`;
    if (typeof table === "string") {
      this.add("warn", "nat.masquerade", ns, title, `cannot read the nat table: ${table}`);
      return;
    }
    const v = evaluateChain(
      table,
      "POSTROUTING",
      { ...this.packetBase(), oif: dev.name, ctstate: "NEW" },
      "nat",
    );
    const listing = [
      `-P POSTROUTING ${table.policies.get("POSTROUTING") ?? "ACCEPT"}`,
      ...(table.chains.get("POSTROUTING") ?? []).map((l) => l.text),
    ].join("\n");
    if (v.target === "MASQUERADE" || v.target === "SNAT") {
      this.ok("nat.masquerade", ns, title, `${v.target} by ${v.by}`);
      return;
    }
    if (!isPrivate(this.srcAddr)) {
      this.ok(
        "nat.masquerade",
        ns,
        `${this.srcAddr} needs no NAT (it is a public address)`,
        `no SNAT rule matched; ${listing}`,
      );
      return;
    }
    this.add(
      "fail",
      "nat.masquerade",
      ns,
      title,
      `$ ${quoteArgv(iptablesArgv(ns, "nat", "-S", "POSTROUTING"))}\n${clip(listing)}\nno MASQUERADE or SNAT matches ${this.srcAddr} → ${this.dst} out of ${dev.name} (${v.byPolicy ? "fell through to the policy" : `stopped at ${v.by}`}): replies to the private ${this.srcAddr} have no way back unless the far side routes ${this.srcNetwork()} to this host`,
      [
        iptablesArgv(
          ns,
          "nat",
          "-A",
          "POSTROUTING",
          "-s",
          this.srcNetwork(),
          "-o",
          dev.name,
          "-j",
          "MASQUERADE",
        ),
      ],
    );
  }

  private async checkMtu(): Promise<void> {
    const problems = mtuMismatches(this.crossings);
    if (problems.length === 0) {
      const all = this.crossings.flatMap((c) => c.links.map((l) => `${l.name} ${l.mtu}`));
      this.ok(
        "mtu",
        null,
        "the MTU agrees along each link of the path",
        all.join(", ") || "no links crossed",
      );
      return;
    }
    const lines = problems.map(
      (p) =>
        `${p.segment}: ${p.links.map((l) => `${l.name} (${nsLabel(l.namespace)}) mtu ${l.mtu}`).join(", ")}: frames up to ${p.target} bytes are dropped where the MTU is smaller`,
    );
    this.add(
      "fail",
      "mtu",
      problems[0]!.fix[0]?.namespace,
      "the MTU agrees along each link of the path",
      lines.join("\n"),
      problems.flatMap((p) =>
        p.fix.map((l) =>
          ipArgv(l.namespace, "link", "set", "dev", l.name, "mtu", String(p.target)),
        ),
      ),
    );
  }

  private async checkConflicts(): Promise<void> {
    const dups = duplicateAddresses(this.segments);
    if (dups.length === 0) {
      this.ok(
        "address.conflict",
        null,
        "no address is held twice on the path's segments",
        `${this.segments.map((s) => s.label).join(", ")}: every address is unique`,
      );
      return;
    }
    const onPath = dups.filter((d) => this.pathAddresses.has(d.address));
    const d = onPath[0] ?? dups[0]!;
    const keeper = chooseKeeper(
      d.holders.map((link) => ({ link })),
      {
        dst: this.dst,
        dstNs: this.dstNs,
        src: this.srcAddr,
        srcNs: this.srcNs,
        gatewayNs: this.path.find((h) => h.via === d.address)
          ? await this.routerOf(d.holders)
          : undefined,
      },
    ).link;
    const intruders = d.holders.filter((l) => l !== keeper);
    const neigh = await this.host.run(
      ipArgv(this.srcNs, "-json", "neigh", "show", "to", d.address),
    );
    const entry = parseJsonList<{ lladdr?: string; dev?: string; state?: string[] }>(
      neigh.stdout,
    )[0];
    const owner = entry?.lladdr ? linkByMac(this.world, entry.lladdr) : undefined;
    const seen = entry?.lladdr
      ? `\n${nsLabel(this.srcNs)} resolves ${d.address} to ${entry.lladdr}${owner ? ` (${owner.name} in ${nsLabel(owner.namespace)})` : ""}${owner === keeper ? "" : ", not the intended " + keeper.name}`
      : "";
    const evidence = `${d.address} is on ${d.holders.map((l) => `${l.name} in ${nsLabel(l.namespace)} (${l.mac ?? "?"})`).join(" and ")}, all on ${d.segment}${seen}`;
    const flushIn = unique(
      this.segments.flatMap((s) => s.members.map((m) => m.link.namespace ?? "\0host")),
    )
      .map((n) => (n === "\0host" ? undefined : n))
      // Neighbours elsewhere on the segment may have cached the intruder's MAC; its holders have no entry.
      .filter((n) => !d.holders.some((l) => l.namespace === n));
    const fix = [
      ...intruders.flatMap((l) =>
        l.inet
          .filter((a) => a.address === d.address)
          .map((a) =>
            ipArgv(l.namespace, "addr", "del", `${a.address}/${a.prefixlen}`, "dev", l.name),
          ),
      ),
      ...flushIn.map((n) => ipArgv(n, "neigh", "flush", "to", d.address)),
    ];
    this.add(
      onPath.length > 0 ? "fail" : "warn",
      "address.conflict",
      keeper.namespace,
      `${d.address} is held by one interface on ${d.segment}`,
      evidence,
      fix,
    );
  }

  /** Of several holders of a gateway address, the namespace that forwards. */
  private async routerOf(holders: Link[]): Promise<string | undefined> {
    for (const l of holders) {
      if (l.kind === "bridge" || (await this.ipForward(l.namespace)))
        return l.namespace ?? "\0host";
    }
    return undefined;
  }

  private async probe(): Promise<void> {
    const ns = this.srcNs;
    if (this.proto === "tcp") {
      const port = String(this.request.port);
      const nc = await this.host.run(["sh", "-c", "command -v nc"]);
      // nc when the host has it; else bash's /dev/tcp. Both bounded: at most ~4 s.
      const argv =
        nc.exitCode === 0 && nc.stdout.trim()
          ? inNamespace(ns, ["timeout", "5", "nc", "-z", "-v", "-w", "3", this.dst, port])
          : inNamespace(ns, [
              "timeout",
              "4",
              "bash",
              "-c",
              'exec 3<>"/dev/tcp/$1/$2" && echo "connected to $1:$2"',
              "probe",
              this.dst,
              port,
            ]);
      const r = await this.host.run(argv);
      const said = [r.stdout.trim(), r.stderr.trim()].filter(Boolean).join("\n");
      const title = `a TCP connection from ${nsLabel(ns)} to ${this.dst}:${port} opens`;
      if (r.exitCode === 0) {
        this.ok("probe", ns, title, `$ ${quoteArgv(argv)}\n${said}`);
      } else {
        const why =
          r.exitCode === 124
            ? "no answer within the time limit: something on the way drops it silently"
            : /refused/i.test(said)
              ? `${this.dst} answered with a reset: the path works, but nothing listens on port ${port}`
              : "the connection failed";
        this.add(
          "fail",
          "probe",
          ns,
          title,
          `$ ${quoteArgv(argv)}\n${said || `exit ${r.exitCode}`}\n${why}; no earlier check explains it`,
        );
      }
      return;
    }
    const from = this.request.from.address;
    // One answer is enough; a lost packet is sent again each second, for at most 3 s.
    const argv = inNamespace(ns, [
      "ping",
      "-c",
      "1",
      "-w",
      "3",
      ...(from ? ["-I", from] : []),
      this.dst,
    ]);
    const r = await this.host.run(argv);
    const title = `${nsLabel(ns)} gets an answer to a ping of ${this.dst}`;
    const said = pingSummary(r.stdout, r.stderr);
    if (r.exitCode !== 0) {
      this.add(
        "fail",
        "probe",
        ns,
        title,
        `$ ${quoteArgv(argv)}\n${said}\nno earlier check explains it: look at the far side (its firewall, its route back)`,
      );
      return;
    }
    const mtu = this.firstDev?.mtu ?? 1500;
    const big = inNamespace(ns, [
      "ping",
      "-c",
      "1",
      "-w",
      "3",
      "-M",
      "do",
      "-s",
      String(mtu - 28),
      ...(from ? ["-I", from] : []),
      this.dst,
    ]);
    const rb = await this.host.run(big);
    if (rb.exitCode === 0) {
      this.ok(
        "probe",
        ns,
        title,
        `$ ${quoteArgv(argv)}\n${said}\n$ ${quoteArgv(big)}\n${pingSummary(rb.stdout, rb.stderr)}`,
      );
    } else if (/frag needed|message too long|mtu/i.test(rb.stdout + rb.stderr)) {
      this.ok(
        "probe",
        ns,
        title,
        `$ ${quoteArgv(argv)}\n${said}\nfull-size packets get "fragmentation needed" back (path MTU discovery works):\n${pingSummary(rb.stdout, rb.stderr)}`,
      );
    } else {
      this.add(
        "warn",
        "probe",
        ns,
        title,
        `$ ${quoteArgv(argv)}\n${said}\nbut a full-size packet (${mtu} bytes, don't fragment) gets no answer and no error: an MTU black hole somewhere beyond\n$ ${quoteArgv(big)}\n${pingSummary(rb.stdout, rb.stderr)}`,
      );
    }
  }

  // -- guesses for fixes --------------------------------------------------------------------

  private srcNetwork(): string {
    const state = namespaceOf(this.world, this.srcNs);
    const inet = state?.links.flatMap((l) => l.inet).find((a) => a.address === this.srcAddr);
    return inet ? networkOf(inet) : `${this.srcAddr}/32`;
  }

  /** The bridge in `ns` that holds (or reaches, among its ports) `address`. */
  private bridgeFor(ns: string | undefined, address: string): Link | undefined {
    const bridges = (namespaceOf(this.world, ns)?.links ?? []).filter((l) => l.kind === "bridge");
    return (
      bridges.find((b) =>
        bridgeSegment(this.world, b).members.some((m) =>
          m.link.inet.some((a) => a.address === address),
        ),
      ) ?? bridges.find((b) => b.inet.some((a) => inNetwork(address, a)))
    );
  }

  /** A prefix length for `address`: that of a bridge or interface network holding it. */
  private guessPrefix(link: Link, address: string): number | undefined {
    const nets: Inet[] = [
      ...link.inet,
      ...this.world.namespaces.flatMap((n) =>
        n.links.filter((l) => l.kind === "bridge").flatMap((l) => l.inet),
      ),
    ];
    return nets.find((a) => inNetwork(address, a))?.prefixlen;
  }

  /** `ip route add|replace DEST via GW` with a gateway found on the source link's segment. */
  private async guessRouteFix(
    ns: string | undefined,
    dev: Link,
    verb: "add" | "replace",
    destination: string | undefined,
    wrongGateway?: string,
  ): Promise<string[][] | undefined> {
    const gateways = candidateGateways(this.world, dev);
    const forwarding = await Promise.all(
      gateways.map(async (g) => g.kind === "bridge" || (await this.ipForward(g.namespace))),
    );
    const gw = gateways.find((_, i) => forwarding[i]) ?? gateways[0];
    const address = gw?.inet.find((a) => dev.inet.some((b) => inNetwork(a.address, b)))?.address;
    if (!address) return undefined;
    let dest = destination;
    if (!dest && wrongGateway) {
      const r = await this.host.run(ipArgv(ns, "-json", "route", "show"));
      const routes = parseJsonList<{ dst: string; gateway?: string }>(r.stdout);
      const hits = routes.filter(
        (x) =>
          x.gateway === wrongGateway &&
          (x.dst === "default" || inNetwork(this.dst, cidrToInet(x.dst))),
      );
      dest = hits.sort((a, b) => prefixOf(b.dst) - prefixOf(a.dst))[0]?.dst ?? "default";
    }
    return [ipArgv(ns, "route", verb, dest ?? "default", "via", address)];
  }

  /** Recreating a missing veth end: names from the namespace, the bridge that carries the source's network. */
  private guessVethFix(ns: string | undefined, from: string | undefined): string[][] | undefined {
    if (!ns || !from) return undefined;
    const bridges = this.world.namespaces.flatMap((n) =>
      n.links.filter((l) => l.kind === "bridge"),
    );
    const bridge = bridges.find((b) => b.inet.some((a) => inNetwork(from, a)));
    const inet = bridge?.inet.find((a) => inNetwork(from, a));
    if (!bridge || !inet) return undefined;
    const taken = new Set(
      this.world.namespaces
        .filter((n) => n.name === ns || n.name === bridge.namespace)
        .flatMap((n) => n.links.map((l) => l.name)),
    );
    const [a, b] = guessVethNames(ns, taken);
    return [
      [
        "ip",
        "link",
        "add",
        a,
        "netns",
        ns,
        "type",
        "veth",
        "peer",
        "name",
        b,
        ...(bridge.namespace ? ["netns", bridge.namespace] : []),
      ],
      ipArgv(bridge.namespace, "link", "set", "dev", b, "master", bridge.name, "up"),
      ipArgv(ns, "addr", "add", `${from}/${inet.prefixlen}`, "dev", a),
      ipArgv(ns, "link", "set", "dev", a, "up"),
      ipArgv(ns, "route", "add", "default", "via", inet.address),
    ];
  }
}

function isLoopback(l: Link): boolean {
  return l.flags.includes("LOOPBACK") || l.name === "lo";
}

/** A one-line account of a link's state, after `ip -br link`. */
export function linkLine(l: Link): string {
  const parts = [`${l.name}: <${l.flags.join(",")}> mtu ${l.mtu} state ${l.operstate}`];
  if (l.master) parts.push(`master ${l.master}`);
  if (l.inet.length > 0) parts.push(l.inet.map((a) => `${a.address}/${a.prefixlen}`).join(" "));
  return parts.join(" ");
}

/** The lines of ping's output that say what happened. */
export function pingSummary(stdout: string, stderr: string): string {
  const lines = `${stdout}\n${stderr}`
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);
  const keep = lines.filter((l) =>
    /bytes from|packets transmitted|rtt|unreachable|frag|error|too long|connect|invalid|cannot/i.test(
      l,
    ),
  );
  return (keep.length > 0 ? keep : lines).join("\n");
}

function clip(text: string, max = 40): string {
  const lines = text.split("\n");
  return lines.length <= max
    ? text
    : [...lines.slice(0, max), `... (${lines.length - max} more lines)`].join("\n");
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

function cidrToInet(cidr: string): Inet {
  const [address, len] = cidr.split("/");
  return { address: address!, prefixlen: len === undefined ? 32 : Number(len) };
}

function prefixOf(dst: string): number {
  return dst === "default" ? 0 : Number(dst.split("/")[1] ?? 32);
}

export type { Endpoint };
