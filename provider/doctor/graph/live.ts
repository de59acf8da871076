/**
 * The picture of a live host: every namespace's links, routes and NAT rules,
 * from one host snapshot (`ip -json` and `iptables -t nat -S` across every
 * namespace, in one command).
 */

import type { Host } from "../../transport";
import { parseJsonList } from "../../host/ip";
import { splitRuleLine } from "../../host/iptables";
import { type HostSnapshot, readHostSnapshot } from "../../host/snapshot";
import { type World, vethPeer, worldFromSnapshot } from "../world";
import {
  type GraphEdge,
  type GraphInterface,
  type GraphNat,
  type GraphRoute,
  type Topology,
  ifId,
} from "./model";

/** Builds the picture from a read of the host plus its routes and NAT rules. Pure. */
export function topologyFromWorld(
  title: string,
  world: World,
  routes: ReadonlyMap<string | undefined, string>,
  natRules: ReadonlyMap<string | undefined, string>,
): Topology {
  const interfaces: GraphInterface[] = [];
  const edges: GraphEdge[] = [];
  const seenPairs = new Set<string>();
  for (const ns of world.namespaces) {
    for (const l of ns.links) {
      if (l.flags.includes("LOOPBACK")) continue;
      const peer = vethPeer(world, l);
      interfaces.push({
        id: ifId(l.namespace, l.name),
        namespace: l.namespace,
        name: l.name,
        kind: l.kind === "veth" ? "veth" : l.kind === "bridge" ? "bridge" : "other",
        addresses: l.inet.map((a) => `${a.address}/${a.prefixlen}`),
        up: l.flags.includes("UP"),
        ...((l.kind === "veth" && peer === "unknown") || (l.kind !== "veth" && l.kind !== "bridge")
          ? { external: true }
          : {}),
      });
      if (l.master)
        edges.push({
          from: ifId(l.namespace, l.name),
          to: ifId(l.namespace, l.master),
          kind: "port",
        });
      if (peer && peer !== "unknown") {
        const a = ifId(l.namespace, l.name);
        const b = ifId(peer.namespace, peer.name);
        const key = [a, b].sort().join("|");
        if (!seenPairs.has(key)) {
          seenPairs.add(key);
          // The end inside a named namespace first: it reads left to right.
          edges.push(
            l.namespace !== undefined || peer.namespace === undefined
              ? { from: a, to: b, kind: "veth" }
              : { from: b, to: a, kind: "veth" },
          );
        }
      }
    }
  }
  const graphRoutes: GraphRoute[] = [];
  for (const [ns, text] of routes) {
    for (const r of parseJsonList<{
      dst: string;
      gateway?: string;
      dev?: string;
      protocol?: string;
      table?: string;
    }>(text)) {
      // `table all` names every table but main; the picture is of the main table.
      if (r.protocol === "kernel" || (r.table !== undefined && r.table !== "main")) continue;
      graphRoutes.push({ namespace: ns, destination: r.dst, via: r.gateway, dev: r.dev });
    }
  }
  const nat: GraphNat[] = [];
  for (const [ns, text] of natRules) nat.push(...parseNatRules(text, ns));
  for (const n of nat) {
    if (n.outInterface)
      edges.push({ from: n.id, to: ifId(n.namespace, n.outInterface), kind: "nat" });
  }
  const named = world.namespaces
    .map((n) => n.name)
    .filter((n): n is string => n !== undefined)
    .sort((a, b) => a.localeCompare(b));
  return {
    title,
    namespaces: [...named, undefined],
    interfaces,
    edges,
    routes: graphRoutes,
    nat,
  };
}

/** Source-NAT rules of `iptables -t nat -S [POSTROUTING]`. Pure. */
export function parseNatRules(stdout: string, namespace: string | undefined): GraphNat[] {
  const out: GraphNat[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("-A POSTROUTING")) continue;
    const w = splitRuleLine(line);
    const at = (flag: string) => {
      const i = w.indexOf(flag);
      return i >= 0 && w[i - 1] !== "!" ? w[i + 1] : undefined;
    };
    const target = at("-j");
    if (target !== "MASQUERADE" && target !== "SNAT") continue;
    out.push({
      id: `nat:${namespace ?? ""}:${out.length}`,
      namespace,
      source: at("-s"),
      outInterface: at("-o"),
      target,
    });
  }
  return out;
}

/**
 * Builds the picture from a host snapshot taken with the `nsids` section:
 * its links, its routes (`ip -4 -json route show table all`, of which the
 * main table is drawn) and its `nat` table (of which POSTROUTING is). Pure.
 */
export function topologyFromSnapshot(title: string, snapshot: HostSnapshot): Topology {
  const world = worldFromSnapshot(snapshot);
  const routes = new Map<string | undefined, string>();
  const nat = new Map<string | undefined, string>();
  // The host's own first, then the namespaces by name: the same picture whatever order `ip netns list` gave.
  const ordered = [...world.namespaces].sort((a, b) =>
    a.name === undefined ? -1 : b.name === undefined ? 1 : a.name.localeCompare(b.name),
  );
  for (const ns of ordered) {
    const dump = ns.name === undefined ? snapshot.own : snapshot.namespaces.get(ns.name);
    const r = dump?.sections.route4;
    const n = dump?.sections.nat;
    if (r?.exitCode === 0) routes.set(ns.name, r.stdout);
    if (n?.exitCode === 0) nat.set(ns.name, n.stdout);
  }
  return topologyFromWorld(title, world, routes, nat);
}

/** Reads a live host in one command: every namespace's links, routes and NAT rules. */
export async function readTopology(host: Host): Promise<Topology> {
  const snapshot = await readHostSnapshot(host, { extra: ["nsids"] });
  return topologyFromSnapshot(`host ${host.name}`, snapshot);
}
