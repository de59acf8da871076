/**
 * Bridges and the links at the far end of a segment: the bridge is UP, the
 * veth's peer is its port and forwards, and the link holding the next hop
 * (and its way on the bridge) can take the packet.
 * Checks `bridge.up`, `bridge.port`, `bridge.port.state` and `nexthop.link`.
 */

import { inNamespace, ipArgv } from "../../host/ip";
import { evidence, linkLine } from "../evidence";
import { linkUpFix, portForwardingFix } from "../fixes";
import { type Segment, bridgeSegment } from "../logic";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";
import { type Link, adminUp, inNetwork, namespaceOf } from "../world";

/** `bridge.up`, `bridge.port`, `bridge.port.state`: the veth's peer `port` enters `bridge`. */
export async function checkBridgePort(w: WalkState, bridge: Link, port: Link): Promise<boolean> {
  const ns = bridge.namespace;
  if (!adminUp(bridge)) {
    record(
      w,
      "fail",
      "bridge.up",
      ns,
      `bridge ${bridge.name} (${nsLabel(ns)}) is UP`,
      await evidence(w.host, ipArgv(ns, "link", "show", "dev", bridge.name)),
      [linkUpFix(ns, bridge.name)],
    );
    return false;
  }
  pass(w, "bridge.up", ns, `bridge ${bridge.name} (${nsLabel(ns)}) is UP`, linkLine(bridge));
  pass(
    w,
    "bridge.port",
    ns,
    `${port.name} is a port of ${bridge.name}`,
    `${port.name} master ${bridge.name}`,
  );
  if (port.portState !== undefined && port.portState !== "forwarding") {
    const stp = port.portState === "listening" || port.portState === "learning";
    record(
      w,
      stp ? "warn" : "fail",
      "bridge.port.state",
      ns,
      `${port.name} forwards on ${bridge.name}`,
      `${await evidence(w.host, inNamespace(ns, ["bridge", "link", "show", "dev", port.name]))}` +
        (stp ? "\nSTP is still deciding: it forwards after the forward delay" : ""),
      stp ? undefined : [portForwardingFix(ns, port.name)],
    );
    return stp;
  }
  pass(
    w,
    "bridge.port.state",
    ns,
    `${port.name} forwards on ${bridge.name}`,
    `state ${port.portState ?? "forwarding"}`,
  );
  return true;
}

/** `nexthop.link`: the link that holds the next hop is up, and so is the way to it on the bridge. */
export async function checkFarSide(
  w: WalkState,
  link: Link,
  port: Link | undefined,
  segment: Segment,
): Promise<boolean> {
  const ns = link.namespace;
  if (!adminUp(link)) {
    record(
      w,
      "fail",
      "nexthop.link",
      ns,
      `${link.name} in ${nsLabel(ns)} is UP`,
      await evidence(w.host, ipArgv(ns, "link", "show", "dev", link.name)),
      [linkUpFix(ns, link.name)],
    );
    return false;
  }
  if (port) {
    const pns = port.namespace;
    if (!adminUp(port)) {
      record(
        w,
        "fail",
        "nexthop.link",
        pns,
        `${port.name}, the way to ${link.name} on ${segment.label}, is UP`,
        await evidence(w.host, ipArgv(pns, "link", "show", "dev", port.name)),
        [linkUpFix(pns, port.name)],
      );
      return false;
    }
    if (port.portState !== undefined && port.portState !== "forwarding") {
      record(
        w,
        "fail",
        "nexthop.link",
        pns,
        `${port.name} forwards on ${segment.label}`,
        await evidence(w.host, inNamespace(pns, ["bridge", "link", "show", "dev", port.name])),
        [portForwardingFix(pns, port.name)],
      );
      return false;
    }
  }
  pass(
    w,
    "nexthop.link",
    ns,
    `${link.name} in ${nsLabel(ns)} is UP${port ? ` and ${port.name} forwards` : ""}`,
    linkLine(link),
  );
  return true;
}

/** The bridge in `ns` that holds (or reaches, among its ports) `address`. */
export function bridgeFor(w: WalkState, ns: string | undefined, address: string): Link | undefined {
  const bridges = (namespaceOf(w.world, ns)?.links ?? []).filter((l) => l.kind === "bridge");
  return (
    bridges.find((b) =>
      bridgeSegment(w.world, b).members.some((m) => m.link.inet.some((a) => a.address === address)),
    ) ?? bridges.find((b) => b.inet.some((a) => inNetwork(address, a)))
  );
}
