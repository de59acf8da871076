/**
 * The picture of a stack: the linuxnet resources in its state (`pulumi stack
 * export`), secrets never read.
 */

import {
  type GraphEdge,
  type GraphInterface,
  type GraphNat,
  type GraphRoute,
  type Topology,
  ifId,
} from "./model";
import type { KindName } from "../../resources/registry";
import { TYPE_PREFIX } from "../../resources/type-token";

/** A Pulumi secret in state: never shown. */
function isSecret(v: unknown): boolean {
  return typeof v === "object" && v !== null && "4dabf18193072939515e22adb298388d" in v;
}

function str(v: unknown): string | undefined {
  if (isSecret(v)) return "[secret]";
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.map(str).filter((s): s is string => s !== undefined) : [];
}

/**
 * The resources of a stack's state: `pulumi stack export` output
 * (`deployment.resources`), a checkpoint file, or a bare list. Pure.
 */
export function stackResources(exported: unknown): {
  /** The resource's type token: `"pulumi-nodejs:dynamic/linuxnet:Bridge"`. */
  type: string;
  /** Its outputs as stored (secrets stay wrapped); `{}` when it has none. */
  outputs: Record<string, unknown>;
}[] {
  const e = exported as Record<string, unknown> | unknown[];
  const list = Array.isArray(e)
    ? e
    : ((e?.deployment as Record<string, unknown> | undefined)?.resources ??
      (
        (e?.checkpoint as Record<string, unknown> | undefined)?.latest as
          Record<string, unknown> | undefined
      )?.resources ??
      (e as Record<string, unknown>)?.resources);
  if (!Array.isArray(list)) throw new Error("not a stack export: no deployment.resources in it");
  return list
    .filter(
      (r): r is { type: string; outputs?: Record<string, unknown> } =>
        typeof (r as { type?: unknown })?.type === "string",
    )
    .map((r) => ({ type: r.type, outputs: r.outputs ?? {} }));
}

/** What the resources of a stack add up to, as they are drawn. */
class Scene {
  readonly namespaces = new Set<string | undefined>();
  readonly interfaces = new Map<string, GraphInterface>();
  readonly edges: GraphEdge[] = [];
  readonly routes: GraphRoute[] = [];
  readonly nat: GraphNat[] = [];

  /** Adds an interface, merging addresses into one already drawn under its id. */
  addInterface(i: GraphInterface): void {
    const prev = this.interfaces.get(i.id);
    this.interfaces.set(
      i.id,
      prev ? { ...prev, ...i, addresses: [...new Set([...prev.addresses, ...i.addresses])] } : i,
    );
    this.namespaces.add(i.namespace);
  }

  /** An interface named by another resource (a bridge, an uplink) that no resource of ours drew. */
  referTo(namespace: string | undefined, name: string, kind: "bridge" | "other"): string {
    const id = ifId(namespace, name);
    if (!this.interfaces.has(id)) {
      this.addInterface({
        id,
        namespace,
        name,
        kind,
        addresses: [],
        ...(kind === "other" ? { external: true } : {}),
      });
    }
    return id;
  }
}

/** How one resource of a kind is drawn, from its outputs in state. */
type Picture = (outputs: Record<string, unknown>, scene: Scene) => void;

/**
 * Every kind's picture, keyed by the registry's kind names: a kind added to
 * the registry without one here does not compile.
 */
const PICTURES: { readonly [K in KindName]: Picture } = {
  Namespace(o, scene) {
    if (str(o.name)) scene.namespaces.add(str(o.name));
  },
  Bridge(o, scene) {
    const name = str(o.name);
    if (!name) return;
    const ns = str(o.namespace);
    scene.addInterface({
      id: ifId(ns, name),
      namespace: ns,
      name,
      kind: "bridge",
      addresses: strings(o.addresses),
      up: o.up !== false,
    });
  },
  VethPair(o, scene) {
    const ends = [o.a, o.b].map((e) => (e ?? {}) as Record<string, unknown>);
    const ids: string[] = [];
    for (const end of ends) {
      const name = str(end.name);
      if (!name) continue;
      const ens = str(end.namespace);
      scene.addInterface({
        id: ifId(ens, name),
        namespace: ens,
        name,
        kind: "veth",
        addresses: strings(end.addresses),
        up: end.up !== false,
      });
      ids.push(ifId(ens, name));
      const bridge = str(end.bridge);
      if (bridge) {
        scene.edges.push({
          from: ifId(ens, name),
          to: scene.referTo(ens, bridge, "bridge"),
          kind: "port",
        });
      }
    }
    if (ids.length === 2) {
      // Drawn from the namespace side towards the host, when one end is on the host.
      const [a, b] =
        str(ends[0]!.namespace) !== undefined || str(ends[1]!.namespace) === undefined
          ? ids
          : [ids[1]!, ids[0]!];
      scene.edges.push({ from: a!, to: b!, kind: "veth" });
    }
  },
  Route(o, scene) {
    if (!str(o.destination)) return;
    const ns = str(o.namespace);
    scene.routes.push({
      namespace: ns,
      destination: str(o.destination)!,
      via: str(o.via),
      dev: str(o.device),
    });
    scene.namespaces.add(ns);
  },
  NatRule(o, scene) {
    const ns = str(o.namespace);
    const out = str(o.outInterface);
    const id = `nat:${ns ?? ""}:${scene.nat.length}`;
    scene.nat.push({
      id,
      namespace: ns,
      source: str(o.source),
      outInterface: out,
      target: "MASQUERADE",
    });
    scene.namespaces.add(ns);
    if (out) scene.edges.push({ from: id, to: scene.referTo(ns, out, "other"), kind: "nat" });
  },
  // An assertion about the network, not a part of it.
  ConnectivityCheck() {},
  // A setting of a namespace, not a part of the drawing: the namespace is in the picture.
  Sysctl(o, scene) {
    scene.namespaces.add(str(o.namespace));
  },
  PortForward(o, scene) {
    const ns = str(o.namespace);
    const port = typeof o.hostPort === "number" ? String(o.hostPort) : str(o.hostPort);
    scene.nat.push({
      id: `nat:${ns ?? ""}:${scene.nat.length}`,
      namespace: ns,
      target: `DNAT ${str(o.protocol) ?? "tcp"}/${port ?? "?"} to ${str(o.to) ?? "?"}`,
    });
    scene.namespaces.add(ns);
  },
  Vxlan(o, scene) {
    const name = str(o.name);
    if (!name) return;
    const ns = str(o.namespace);
    const id = ifId(ns, name);
    const vni = typeof o.vni === "number" ? ` vni ${o.vni}` : "";
    scene.addInterface({
      id,
      namespace: ns,
      name,
      kind: "other",
      addresses: strings(o.addresses),
      up: true,
    });
    const bridge = str(o.bridge);
    if (bridge)
      scene.edges.push({ from: id, to: scene.referTo(ns, bridge, "bridge"), kind: "port" });
    // The tunnel: one line to each remote (or the group), drawn as a host off this one.
    const group = str(o.group);
    for (const peer of group ? [group] : strings(o.remotes)) {
      const to = `remote:${peer}`;
      if (!scene.interfaces.has(to)) {
        scene.addInterface({
          id: to,
          namespace: undefined,
          name: `${group ? "group" : "remote"} ${peer}`,
          kind: "other",
          addresses: [],
          external: true,
        });
      }
      scene.edges.push({ from: id, to, kind: "tunnel", label: `vxlan${vni}` });
    }
  },
  LinkShaping(o, scene) {
    const device = str(o.device);
    if (!device) return;
    const ns = str(o.namespace);
    const id = ifId(ns, device);
    const values = [
      str(o.rate),
      ...(["delay", "jitter"] as const).map((k) => (str(o[k]) ? `${k} ${str(o[k])}` : undefined)),
      ...(["loss", "duplicate", "reorder"] as const).map((k) =>
        typeof o[k] === "number" ? `${k} ${o[k]}%` : undefined,
      ),
    ].filter((v): v is string => v !== undefined);
    // Merged into the interface's own drawing, whichever resource comes first in the state.
    scene.addInterface({
      ...(scene.interfaces.get(id) ?? {
        id,
        namespace: ns,
        name: device,
        kind: "other",
        addresses: [],
      }),
      shaping: values.join(", "),
    });
  },
};

/** Builds the picture from the linuxnet resources of a stack's state. Pure; secrets are never read. */
export function topologyFromStack(exported: unknown, title = "host (from the stack)"): Topology {
  const scene = new Scene();
  for (const { type, outputs } of stackResources(exported)) {
    if (!type.startsWith(TYPE_PREFIX)) continue;
    const kind = type.slice(TYPE_PREFIX.length);
    // A kind this package version does not know (a newer stack) is left out of the picture.
    if (Object.hasOwn(PICTURES, kind)) PICTURES[kind as KindName](outputs, scene);
  }
  const ordered = [...scene.namespaces].sort((a, b) =>
    a === undefined ? 1 : b === undefined ? -1 : a.localeCompare(b),
  );
  return {
    title,
    namespaces: ordered,
    interfaces: [...scene.interfaces.values()],
    edges: scene.edges,
    routes: scene.routes,
    nat: scene.nat,
  };
}
