/**
 * Root cause before symptom: an interface that is down, or has lost its
 * address, takes its connected route with it, and the kernel then routes the
 * packet somewhere else (a default route, a loop, nowhere). Asked before the
 * route is trusted, in every namespace that routes the packet.
 * Checks `link.down` and `link.address`.
 */

import { quoteArgv } from "../../shell/quote";
import { ipArgv } from "../../host/ip";
import {
  type RouteAnswer,
  type RouteGet,
  cidrToInet,
  evidence,
  isLoopback,
  prefixOf,
} from "../evidence";
import { ipFix, linkUpFix } from "../fixes";
import { segmentFrom } from "../logic";
import { type WalkState, record } from "../state";
import { nsLabel } from "../types";
import { adminUp, hasCarrier, inNetwork, namespaceOf, vethPeer } from "../world";

/**
 * The prefix length of the route the kernel chose (`ip route get` names its
 * gateway and device, not its prefix): the longest of `ns`'s routes that holds
 * the destination with that gateway, device and type. Undefined when none
 * matches (routes not read). Pure.
 */
export function usedPrefix(
  w: WalkState,
  ns: string | undefined,
  got: RouteGet,
): number | undefined {
  let best: number | undefined;
  for (const r of w.facts.routes(ns)) {
    if ((r.type ?? "unicast") !== (got.type ?? "unicast")) continue;
    if (r.gateway !== got.gateway || (r.dev !== undefined && r.dev !== got.dev)) continue;
    const len = prefixOf(r.dst);
    if (len > 0 && !inNetwork(w.dst, cidrToInet(r.dst))) continue;
    if (best === undefined || len > best) best = len;
  }
  return best;
}

/**
 * When the kernel's answer is not a direct route to the destination, an
 * interface of `ns` whose network holds the destination but that is down (or
 * has no address) is why, but only when that network is at least as specific
 * as the route the kernel used (a down 10.0.0.1/8 is not why 10.2.0.5 goes by
 * a route to 10.2.0.0/16: that route would win anyway). False (and a failure
 * recorded) when one is found.
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
  // With no route, any network holding the destination would have been used.
  const used = got.route ? usedPrefix(w, ns, got.route) : undefined;
  const wins = (a: { prefixlen: number }) => used === undefined || a.prefixlen >= used;
  for (const link of links) {
    const holds = link.inet.find((a) => inNetwork(w.dst, a) && wins(a));
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
      (m) => m.link !== link && m.link.inet.some((a) => inNetwork(w.dst, a) && wins(a)),
    );
    if (!far) continue;
    const net = far.link.inet.find((a) => inNetwork(w.dst, a) && wins(a))!;
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
