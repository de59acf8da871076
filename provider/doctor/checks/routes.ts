/**
 * Routing past the first hop: a namespace that forwards (its `ip_forward`,
 * its route onward, FORWARD and rp_filter there), the destination's route
 * back, and the route fixes guessed from the segment.
 * Checks `forwarding`, `route`, `route.reply` (and, through the families they
 * call, `iptables.forward`, `rp_filter`, `iptables.input`).
 */

import { quoteArgv } from "../../shell/quote";
import { inNamespace, ipArgv, parseJsonList } from "../../host/ip";
import {
  type RouteAnswer,
  type RouteGet,
  cidrToInet,
  evidence,
  prefixOf,
  routeGet,
} from "../evidence";
import { ipFix, sysctlFix } from "../fixes";
import { candidateGateways } from "../logic";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";
import { type Link, findLink, inNetwork } from "../world";
import { checkChain, checkForward } from "./filter";
import { checkLinks } from "./links";
import { checkNft } from "./nft";
import { checkRpFilter } from "./rpfilter";
import { failByRule, policyRouted } from "./rules";

/**
 * Records that `ns` has no route to the destination: the kernel's answer to
 * `ip route get`, the namespace's routes, and a fix when one can be guessed.
 */
export async function failNoRoute(
  w: WalkState,
  ns: string | undefined,
  got: RouteAnswer,
  fix?: string[][],
): Promise<void> {
  record(
    w,
    "fail",
    "route",
    ns,
    `${nsLabel(ns)} has a route to ${w.dst}`,
    `$ ${quoteArgv(got.argv)}\n${got.said}\n${await evidence(w.host, ipArgv(ns, "route", "show"))}`,
    fix,
  );
}

/** A namespace that forwards: ip_forward, its route onward, FORWARD, rp_filter. */
export async function routerHop(
  w: WalkState,
  ns: string | undefined,
  iif: Link,
  bridge: string | undefined,
): Promise<{ dev: Link; route: RouteGet } | undefined> {
  if (!w.facts.ipForward(ns)) {
    record(
      w,
      "fail",
      "forwarding",
      ns,
      `${nsLabel(ns)} forwards IPv4 (it routes ${w.srcAddr} → ${w.dst})`,
      `${await evidence(w.host, inNamespace(ns, ["sysctl", "net.ipv4.ip_forward"]))}\n${nsLabel(ns)} holds the next hop but not ${w.dst}: it must forward`,
      [sysctlFix(ns, "net.ipv4.ip_forward", "1")],
    );
    return undefined;
  }
  pass(w, "forwarding", ns, `${nsLabel(ns)} forwards IPv4`, "net.ipv4.ip_forward = 1");
  let got = await routeGet(w.host, ns, w.dst);
  const asked = { src: w.srcAddr, dst: w.dst, iif: iif.name };
  if (policyRouted(w, ns)) {
    // Rules may choose by source and incoming interface: ask the kernel as the packet comes in.
    const routed = await routeGet(w.host, ns, w.dst, { from: w.srcAddr, iif: iif.name });
    if (routed.route) got = routed;
    else if (failByRule(w, ns, asked, routed)) return undefined;
  }
  if (!got.route) {
    if (failByRule(w, ns, asked, got)) return undefined;
    if (!(await checkLinks(w, ns, got))) return undefined;
    await failNoRoute(w, ns, got);
    return undefined;
  }
  if (!(await checkLinks(w, ns, got))) return undefined;
  if (policyRouted(w, ns)) {
    // The reply comes back through here too, in by the way the packet left.
    const replyDev = got.route.dev;
    const reply = await routeGet(w.host, ns, w.srcAddr, { from: w.dst, iif: replyDev });
    if (!reply.route && failByRule(w, ns, { src: w.dst, dst: w.srcAddr, iif: replyDev }, reply)) {
      return undefined;
    }
  }
  const dev = findLink(w.world, ns, got.route.dev);
  if (!dev) {
    record(
      w,
      "fail",
      "route",
      ns,
      `${nsLabel(ns)} routes ${w.dst} by an interface it has`,
      `$ ${quoteArgv(got.argv)}\n${got.said}`,
    );
    return undefined;
  }
  pass(
    w,
    "route",
    ns,
    `${nsLabel(ns)} routes ${w.dst} ${got.route.gateway ? `via ${got.route.gateway}` : "directly"} on ${dev.name}`,
    `$ ${quoteArgv(got.argv)}\n${got.said}`,
  );
  const inName = bridge ?? iif.name;
  if (
    !checkForward(
      w,
      ns,
      { iif: inName, oif: dev.name },
      `${nsLabel(ns)} routes between ${inName} and ${dev.name}`,
      false,
    )
  ) {
    return undefined;
  }
  if (
    !checkNft(w, ns, "nft.forward", ["prerouting", "forward", "postrouting"], {
      iif: inName,
      oif: dev.name,
    })
  ) {
    return undefined;
  }
  if (!(await checkRpFilter(w, ns, iif))) return undefined;
  return { dev, route: got.route };
}

/** The destination namespace: rp_filter, INPUT, and a route back. */
export async function arrive(w: WalkState, ns: string | undefined, iif: Link): Promise<boolean> {
  if (!(await checkRpFilter(w, ns, iif))) return false;
  if (!checkChain(w, ns, "INPUT", { iif: iif.name, src: w.srcAddr, dst: w.dst }, "iptables.input"))
    return false;
  if (!checkNft(w, ns, "nft.input", ["prerouting", "input"], { iif: iif.name })) return false;
  const back = await routeGet(w.host, ns, w.srcAddr, { from: w.dst });
  if (!back.route && failByRule(w, ns, { src: w.dst, dst: w.srcAddr, iif: "lo" }, back)) {
    return false;
  }
  if (!back.route) {
    const prev = w.crossings.at(-1)?.links[0];
    const gw = prev?.inet.find((a) => iif.inet.some((b) => inNetwork(a.address, b)));
    record(
      w,
      "fail",
      "route.reply",
      ns,
      `${nsLabel(ns)} has a route back to ${w.srcAddr}`,
      `$ ${quoteArgv(back.argv)}\n${back.said}`,
      gw ? [ipFix(ns, "route", "add", "default", "via", gw.address)] : undefined,
    );
    return false;
  }
  pass(
    w,
    "route.reply",
    ns,
    `${nsLabel(ns)} replies to ${w.srcAddr} ${back.route.gateway ? `via ${back.route.gateway}` : "directly"} on ${back.route.dev}`,
    `$ ${quoteArgv(back.argv)}\n${back.said}`,
  );
  return true;
}

/** Of several holders of a gateway address, the namespace that forwards ("\0host" for the host's own). */
export function routerOf(w: WalkState, holders: Link[]): string | undefined {
  for (const l of holders) {
    if (l.kind === "bridge" || w.facts.ipForward(l.namespace)) return l.namespace ?? "\0host";
  }
  return undefined;
}

/** `ip route add|replace DEST via GW` with a gateway found on the source link's segment. */
export async function guessRouteFix(
  w: WalkState,
  ns: string | undefined,
  dev: Link,
  verb: "add" | "replace",
  destination: string | undefined,
  wrongGateway?: string,
): Promise<string[][] | undefined> {
  const gateways = candidateGateways(w.world, dev);
  const gw =
    gateways.find((g) => g.kind === "bridge" || w.facts.ipForward(g.namespace)) ?? gateways[0];
  const address = gw?.inet.find((a) => dev.inet.some((b) => inNetwork(a.address, b)))?.address;
  if (!address) return undefined;
  let dest = destination;
  if (!dest && wrongGateway) {
    const r = await w.host.run(ipArgv(ns, "-json", "route", "show"));
    const routes = parseJsonList<{ dst: string; gateway?: string }>(r.stdout);
    const hits = routes.filter(
      (x) =>
        x.gateway === wrongGateway && (x.dst === "default" || inNetwork(w.dst, cidrToInet(x.dst))),
    );
    dest = hits.sort((a, b) => prefixOf(b.dst) - prefixOf(a.dst))[0]?.dst ?? "default";
  }
  return [ipFix(ns, "route", verb, dest ?? "default", "via", address)];
}
