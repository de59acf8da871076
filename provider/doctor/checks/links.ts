/**
 * Root cause before symptom: an interface that is down, or has lost its
 * address, takes its connected route with it, and the kernel then routes the
 * packet somewhere else (a default route, a loop, nowhere). Asked before the
 * route is trusted, in every namespace that routes the packet.
 * Checks `link.down` and `link.address`.
 */

import { quoteArgv } from "../../shell/quote";
import { ipArgv } from "../../host/ip";
import { type RouteAnswer, evidence, isLoopback } from "../evidence";
import { ipFix, linkUpFix } from "../fixes";
import { segmentFrom } from "../logic";
import { type WalkState, record } from "../state";
import { nsLabel } from "../types";
import { adminUp, hasCarrier, inNetwork, namespaceOf, vethPeer } from "../world";

/**
 * When the kernel's answer is not a direct route to the destination, an
 * interface of `ns` whose network holds the destination but that is down (or
 * has no address) is why. False (and a failure recorded) when one is found.
 */
export async function checkLinks(
  w: WalkState,
  ns: string | undefined,
  got: RouteAnswer,
): Promise<boolean> {
  // A connected route by an interface that is up: nothing was lost.
  if (got.route && !got.route.gateway && (got.route.type ?? "unicast") === "unicast") return true;
  const links = (namespaceOf(w.world, ns)?.links ?? []).filter(
    (l) => !isLoopback(l) && l.name !== got.route?.dev,
  );
  const kernel = `$ ${quoteArgv(got.argv)}\n${got.said}`;
  for (const link of links) {
    const holds = link.inet.find((a) => inNetwork(w.dst, a));
    if (!holds || (adminUp(link) && hasCarrier(link))) continue;
    const peer = vethPeer(w.world, link);
    const fix = !adminUp(link)
      ? [linkUpFix(ns, link.name)]
      : peer && peer !== "unknown" && !adminUp(peer)
        ? [linkUpFix(peer.namespace, peer.name)]
        : undefined;
    record(
      w,
      "fail",
      "link.down",
      ns,
      `${link.name} in ${nsLabel(ns)}, which holds ${w.dst}'s network, is UP`,
      `${await evidence(w.host, ipArgv(ns, "addr", "show", "dev", link.name))}\n` +
        `${link.name} has ${holds.address}/${holds.prefixlen} but is ${adminUp(link) ? "without carrier (its peer is down)" : "down"}: its connected route is gone, so the kernel routes ${w.dst} elsewhere:\n${kernel}`,
      fix,
    );
    return false;
  }
  for (const link of links) {
    if (link.inet.length > 0 || link.master || !adminUp(link)) continue;
    if (link.kind !== "veth" && link.kind !== "bridge") continue;
    const segment = segmentFrom(w.world, link);
    const far = segment?.members.find(
      (m) => m.link !== link && m.link.inet.some((a) => inNetwork(w.dst, a)),
    );
    if (!far) continue;
    const net = far.link.inet.find((a) => inNetwork(w.dst, a))!;
    // The address the far side expects here: the gateway its routes name on that network.
    const gw = w.facts
      .routes(far.link.namespace)
      .find(
        (r) =>
          (r.table ?? "main") === "main" &&
          r.gateway !== undefined &&
          inNetwork(r.gateway, net) &&
          r.gateway !== net.address,
      )?.gateway;
    record(
      w,
      "fail",
      "link.address",
      ns,
      `${link.name} in ${nsLabel(ns)}, which leads to ${w.dst}'s network, has an IPv4 address`,
      `${await evidence(w.host, ipArgv(ns, "addr", "show", "dev", link.name))}\n` +
        `${link.name} has no address, so ${nsLabel(ns)} has no connected route to ${net.address}/${net.prefixlen} (${far.link.name} in ${nsLabel(far.link.namespace)} is there) and routes ${w.dst} elsewhere:\n${kernel}` +
        (gw
          ? `\n${nsLabel(far.link.namespace)} routes by ${gw}: that is the address ${link.name} should have`
          : ""),
      gw ? [ipFix(ns, "addr", "add", `${gw}/${net.prefixlen}`, "dev", link.name)] : undefined,
    );
    return false;
  }
  return true;
}
