/**
 * One L2 segment crossed: from the interface a namespace sends by, over a
 * veth pair (and the bridge its peer is a port of) to the link that holds the
 * next hop. Checks `veth.peer`, `veth.peer.up` and `route.gateway`, and calls
 * the bridge family, for bridged traffic FORWARD, and for a segment that goes
 * on through a VXLAN device, where that device sends the frame.
 */

import { quoteArgv } from "../../shell/quote";
import { ipArgv } from "../../host/ip";
import { type RouteGet, evidence, evidenceIfAny, linkLine, routeLine, unique } from "../evidence";
import { ipFix, linkUpFix } from "../fixes";
import { type Segment, bridgeSegment, chooseKeeper } from "../logic";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";
import { type Link, adminUp, findLink, hasCarrier, vethPeer } from "../world";
import { bridgeFor, checkBridgePort, checkFarSide } from "./bridge";
import { checkBridged } from "./filter";
import { checkNeighbour } from "./neigh";
import { checkNftBridge } from "./nft";
import { guessRouteFix } from "./routes";
import { followVxlan } from "./vxlan";

/** Where the crossing leads: the link holding the next hop (and the bridge on the way), off the host, or nowhere. */
export type Crossed = { link: Link; bridge?: string } | "egress" | "stop";

/**
 * From `dev` in `ns` across one L2 segment (a veth pair, or a bridge) to the
 * link that holds the next hop. Returns that link, "egress" when the path
 * leaves the host here, or "stop" on a failure.
 */
export async function crossSegment(
  w: WalkState,
  ns: string | undefined,
  dev: Link,
  route: RouteGet,
  iif: Link | undefined,
): Promise<Crossed> {
  const nexthop = route.gateway ?? w.dst;
  if (route.gateway) w.pathAddresses.add(route.gateway);
  w.path.push({
    namespace: ns,
    ...(iif ? { in: iif.name } : {}),
    out: dev.name,
    ...(route.gateway ? { via: route.gateway } : {}),
  });
  let segment: Segment;
  let entryPort: Link | undefined;
  if (dev.kind === "bridge") {
    // The namespace sends into a bridge it holds itself: up, or the route would not exist.
    pass(w, "bridge.up", ns, `bridge ${dev.name} (${nsLabel(ns)}) is UP`, linkLine(dev));
    segment = bridgeSegment(w.world, dev);
  } else if (dev.kind === "veth") {
    const peer = vethPeer(w.world, dev);
    if (peer === "unknown" || peer === undefined) {
      if (!hasCarrier(dev)) {
        record(
          w,
          "fail",
          "veth.peer",
          ns,
          `the peer of ${dev.name} is UP`,
          `${await evidence(w.host, ipArgv(ns, "link", "show", "dev", dev.name))}\n${dev.name} has no carrier and its peer is in a namespace with no name here (netnsid ${dev.peerNetnsid})`,
        );
        return "stop";
      }
      pass(
        w,
        "veth.peer",
        ns,
        `${dev.name} leads off the host (its peer is in a namespace with no name here)`,
        `its peer (ifindex ${dev.peerIfindex}, netnsid ${dev.peerNetnsid}) is in a namespace that has no name here`,
      );
      return "egress";
    }
    pass(
      w,
      "veth.peer",
      peer.namespace,
      `${dev.name}'s peer is ${peer.name} in ${nsLabel(peer.namespace)}`,
      `${dev.name}: ifindex ${dev.ifindex}, peer ifindex ${dev.peerIfindex}${dev.peerNetnsid !== undefined ? ` in netnsid ${dev.peerNetnsid}` : ""}; ${peer.name}: ifindex ${peer.ifindex}`,
    );
    if (!adminUp(peer)) {
      record(
        w,
        "fail",
        "veth.peer.up",
        peer.namespace,
        `${peer.name} (${nsLabel(peer.namespace)}), the peer of ${dev.name}, is UP`,
        `${await evidence(w.host, ipArgv(peer.namespace, "link", "show", "dev", peer.name))}\n${dev.name} in ${nsLabel(ns)} has no carrier while its peer is down`,
        [linkUpFix(peer.namespace, peer.name)],
      );
      return "stop";
    }
    pass(
      w,
      "veth.peer.up",
      peer.namespace,
      `${peer.name} (${nsLabel(peer.namespace)}) is UP`,
      linkLine(peer),
    );
    if (peer.master) {
      const bridge = findLink(w.world, peer.namespace, peer.master);
      if (!bridge || bridge.kind !== "bridge") {
        pass(
          w,
          "bridge.up",
          peer.namespace,
          `${peer.name} is enslaved to ${peer.master}`,
          `${peer.master} is a ${bridge?.kind ?? "plain"} link`,
        );
        segment = directSegment(`${peer.name}`, peer);
      } else {
        if (!(await checkBridgePort(w, bridge, peer))) return "stop";
        segment = bridgeSegment(w.world, bridge);
        entryPort = peer;
      }
    } else if (peer.inet.some((a) => a.address === nexthop)) {
      segment = directSegment(`${dev.name}–${peer.name}`, peer);
    } else {
      const bridge = bridgeFor(w, peer.namespace, nexthop);
      if (bridge) {
        record(
          w,
          "fail",
          "bridge.port",
          peer.namespace,
          `${peer.name} is a port of ${bridge.name}`,
          `${await evidence(w.host, ipArgv(peer.namespace, "-d", "link", "show", "dev", peer.name))}\n${peer.name} has no master; ${bridge.name} in ${nsLabel(bridge.namespace)} is where ${nexthop} lives`,
          [ipFix(peer.namespace, "link", "set", "dev", peer.name, "master", bridge.name)],
        );
        return "stop";
      }
      segment = directSegment(`${dev.name}–${peer.name}`, peer);
    }
  } else if (dev.kind === "vxlan") {
    return (await followVxlan(w, ns, dev, nexthop)) ? "egress" : "stop";
  } else {
    return "egress";
  }
  w.segments.push(segment);

  const owners = segment.members.filter(
    (m) => m.link !== dev && m.link.inet.some((a) => a.address === nexthop),
  );
  const where =
    segment.kind === "bridge" ? `${segment.label}'s segment` : `the other end of ${dev.name}`;
  if (owners.length === 0) {
    const tunnels = segment.external
      .map((name) => findLink(w.world, segment.namespace, name))
      .filter((l): l is Link => l?.kind === "vxlan");
    if (tunnels.length > 0) {
      pass(
        w,
        "route.gateway",
        segment.namespace,
        `${nexthop} is on ${where}`,
        `no interface on this host has ${nexthop}; ${segment.label} goes on to other hosts through VXLAN (${tunnels.map((t) => t.name).join(", ")})`,
      );
      for (const tunnel of tunnels) {
        if (!(await followVxlan(w, segment.namespace, tunnel, nexthop))) return "stop";
      }
      return "egress";
    }
    if (segment.external.length > 0) {
      record(
        w,
        "warn",
        "route.gateway",
        segment.namespace,
        `${nexthop} is on ${where}`,
        `no interface on this host has ${nexthop}; ${segment.label} has ports that lead off the host (${segment.external.join(", ")}): it may be out there`,
      );
      return "egress";
    }
    const present = segment.members
      .filter((m) => m.link !== dev)
      .flatMap((m) =>
        m.link.inet.map((a) => `${a.address} (${m.link.name} in ${nsLabel(m.link.namespace)})`),
      );
    if (route.gateway) {
      const fix = await guessRouteFix(w, ns, dev, "replace", undefined, route.gateway);
      record(
        w,
        "fail",
        "route.gateway",
        ns,
        `the gateway ${route.gateway} is on ${where}`,
        `$ ${quoteArgv(ipArgv(ns, "route", "get", w.dst))}\n${routeLine(route)}\n` +
          (await evidenceIfAny(w.host, ipArgv(ns, "neigh", "show", route.gateway))) +
          `no interface on ${where} holds ${route.gateway}; there: ${present.join(", ") || "nothing"}`,
        fix,
      );
    } else {
      record(
        w,
        "fail",
        "route.gateway",
        ns,
        `${w.dst} is on ${where}`,
        `${nsLabel(ns)} treats ${w.dst} as on-link via ${dev.name}, but no interface there holds it; there: ${present.join(", ") || "nothing"}`,
      );
    }
    return "stop";
  }
  const keeper = chooseKeeper(owners, {
    dst: w.dst,
    dstNs: w.dstNs,
    src: w.srcAddr,
    srcNs: w.srcNs,
  });
  pass(
    w,
    "route.gateway",
    keeper.link.namespace,
    `${nexthop} is on ${where}`,
    `${nexthop} is ${keeper.link.name} in ${nsLabel(keeper.link.namespace)}`,
  );

  if (!(await checkFarSide(w, keeper.link, keeper.port, segment))) return "stop";
  if (
    segment.kind === "bridge" &&
    entryPort &&
    !checkNftBridge(w, segment.namespace, segment.label, entryPort.name, keeper.port?.name)
  ) {
    return "stop";
  }
  if (!(await checkNeighbour(w, ns, dev, nexthop, keeper.link))) return "stop";

  if (segment.kind === "bridge" && entryPort && keeper.port) {
    if (!checkBridged(w, segment, entryPort, keeper.port)) return "stop";
  }
  const crossed = [dev, entryPort, keeper.port, keeper.link].filter(
    (l): l is Link => l !== undefined,
  );
  w.crossings.push({ segment: segment.label, links: unique(crossed) });
  return { link: keeper.link, ...(segment.kind === "bridge" ? { bridge: segment.label } : {}) };
}

/** A segment of one link besides the sender: the veth's peer, or a port of something not a bridge. */
function directSegment(label: string, peer: Link): Segment {
  return {
    kind: "direct",
    label,
    namespace: peer.namespace,
    members: [{ link: peer }],
    external: [],
  };
}
