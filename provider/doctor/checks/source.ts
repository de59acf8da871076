/**
 * The source namespace: the interface the kernel picks, the address it sends
 * from, its route, and its OUTPUT chain.
 * Checks `source.interface`, `source.address`, `route` and `iptables.output`.
 */

import { quoteArgv } from "../../shell/quote";
import { ipArgv } from "../../host/ip";
import { type RouteGet, evidence, isLoopback, linkLine, routeGet } from "../evidence";
import { ipFix, linkUpFix } from "../fixes";
import { guessVethNames } from "../logic";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";
import { type Inet, type Link, adminUp, findLink, inNetwork, namespaceOf } from "../world";
import { checkChain } from "./filter";
import { checkLinks } from "./links";
import { checkNft } from "./nft";
import { failNoRoute, guessRouteFix } from "./routes";
import { failByRule, policyRouted } from "./rules";

/** The source's first step: the interface and route it sends by, or undefined when the walk stops here. */
export async function sourceHop(w: WalkState): Promise<{ dev: Link; route: RouteGet } | undefined> {
  const ns = w.srcNs;
  const state = namespaceOf(w.world, ns)!;
  const links = state.links.filter((l) => !isLoopback(l));
  const from = w.request.from.address;
  let got = await routeGet(w.host, ns, w.dst, { from });
  if (from) w.srcAddr = from;

  if (links.length === 0) {
    const fix = guessVethFix(w, ns, from);
    record(
      w,
      "fail",
      "source.interface",
      ns,
      `${nsLabel(ns)} has an interface besides lo`,
      `${await evidence(w.host, ipArgv(ns, "-br", "link", "show"))}\nonly the loopback is left: the veth end is missing (deleting either end of a veth pair deletes both)` +
        (fix
          ? ""
          : from
            ? `\nno bridge on this host carries ${from}'s network, so the fix cannot be guessed`
            : `\ngive the source address (--from ${ns}/ADDRESS) for a suggested fix`),
      fix,
    );
    return undefined;
  }
  const routed = got.route ? findLink(w.world, ns, got.route.dev) : undefined;
  const withFrom = from ? links.find((l) => l.inet.some((a) => a.address === from)) : undefined;
  const chosen =
    routed ??
    withFrom ??
    links.find((l) => !adminUp(l)) ??
    links.find((l) => l.inet.length > 0) ??
    links[0]!;
  if (!adminUp(chosen)) {
    record(
      w,
      "fail",
      "source.interface",
      ns,
      `${chosen.name} in ${nsLabel(ns)} is UP`,
      await evidence(w.host, ipArgv(ns, "link", "show", "dev", chosen.name)),
      [linkUpFix(ns, chosen.name)],
    );
    return undefined;
  }
  pass(
    w,
    "source.interface",
    ns,
    `${chosen.name} in ${nsLabel(ns)} exists and is UP`,
    linkLine(chosen),
  );

  if (got.route?.type === "local") {
    w.srcAddr = from ?? w.dst;
    pass(w, "source.address", ns, `${w.dst} is local to ${nsLabel(ns)}`, got.said);
    pass(
      w,
      "route",
      ns,
      `the kernel delivers ${w.dst} locally`,
      `$ ${quoteArgv(got.argv)}\n${got.said}`,
    );
    return undefined;
  }
  if (from !== undefined && !state.links.some((l) => l.inet.some((a) => a.address === from))) {
    const inet = guessPrefix(w, chosen, from);
    record(
      w,
      "fail",
      "source.address",
      ns,
      `${from} is an address in ${nsLabel(ns)}`,
      `${await evidence(w.host, ipArgv(ns, "-br", "addr", "show"))}\n${from} is on no interface`,
      inet ? [ipFix(ns, "addr", "add", `${from}/${inet}`, "dev", chosen.name)] : undefined,
    );
    return undefined;
  }
  if (chosen.inet.length === 0 && !got.route) {
    record(
      w,
      "fail",
      "source.address",
      ns,
      `${chosen.name} in ${nsLabel(ns)} has an IPv4 address`,
      await evidence(w.host, ipArgv(ns, "addr", "show", "dev", chosen.name)),
    );
    return undefined;
  }
  const asked = { src: from ?? chosen.inet[0]?.address ?? "0.0.0.0", dst: w.dst, iif: "lo" };
  if (!got.route) {
    if (failByRule(w, ns, asked, got)) return undefined;
    if (!(await checkLinks(w, ns, got))) return undefined;
    await failNoRoute(w, ns, got, await guessRouteFix(w, ns, chosen, "add", "default"));
    return undefined;
  }
  if (!from && policyRouted(w, ns)) {
    // Rules may choose by source: ask again from the address the kernel picked.
    const src = got.route.prefsrc ?? chosen.inet[0]?.address;
    if (src) {
      const again = await routeGet(w.host, ns, w.dst, { from: src });
      if (!again.route) {
        if (failByRule(w, ns, { ...asked, src }, again)) return undefined;
        await failNoRoute(w, ns, again);
        return undefined;
      }
      got = again;
    }
  }
  const route = got.route;
  if (!route) return undefined;
  if (!(await checkLinks(w, ns, got))) return undefined;
  w.srcAddr = from ?? route.prefsrc ?? chosen.inet[0]?.address ?? "";
  w.pathAddresses.add(w.srcAddr);
  const dev = findLink(w.world, ns, route.dev)!;
  w.firstDev = dev;
  pass(
    w,
    "source.address",
    ns,
    `${nsLabel(ns)} sends from ${w.srcAddr}`,
    dev.inet.map((a) => `${a.address}/${a.prefixlen}`).join(", ") + ` on ${dev.name}`,
  );
  pass(
    w,
    "route",
    ns,
    `${nsLabel(ns)} routes ${w.dst} ${route.gateway ? `via ${route.gateway}` : "directly"} on ${dev.name}`,
    `$ ${quoteArgv(got.argv)}\n${got.said}`,
  );
  if (
    !checkChain(w, ns, "OUTPUT", { oif: dev.name, src: w.srcAddr, dst: w.dst }, "iptables.output")
  ) {
    return undefined;
  }
  if (!checkNft(w, ns, "nft.output", ["output", "postrouting"], { oif: dev.name }))
    return undefined;
  return { dev, route };
}

/** A prefix length for `address`: that of a bridge or interface network holding it. */
function guessPrefix(w: WalkState, link: Link, address: string): number | undefined {
  const nets: Inet[] = [
    ...link.inet,
    ...w.world.namespaces.flatMap((n) =>
      n.links.filter((l) => l.kind === "bridge").flatMap((l) => l.inet),
    ),
  ];
  return nets.find((a) => inNetwork(address, a))?.prefixlen;
}

/** Recreating a missing veth end: names from the namespace, the bridge that carries the source's network. */
function guessVethFix(
  w: WalkState,
  ns: string | undefined,
  from: string | undefined,
): string[][] | undefined {
  if (!ns || !from) return undefined;
  const bridges = w.world.namespaces.flatMap((n) => n.links.filter((l) => l.kind === "bridge"));
  const bridge = bridges.find((b) => b.inet.some((a) => inNetwork(from, a)));
  const inet = bridge?.inet.find((a) => inNetwork(from, a));
  if (!bridge || !inet) return undefined;
  const taken = new Set(
    w.world.namespaces
      .filter((n) => n.name === ns || n.name === bridge.namespace)
      .flatMap((n) => n.links.map((l) => l.name)),
  );
  const [a, b] = guessVethNames(ns, taken);
  return [
    ipFix(
      undefined,
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
    ),
    ipFix(bridge.namespace, "link", "set", "dev", b, "master", bridge.name, "up"),
    ipFix(ns, "addr", "add", `${from}/${inet.prefixlen}`, "dev", a),
    linkUpFix(ns, a),
    ipFix(ns, "route", "add", "default", "via", inet.address),
  ];
}
