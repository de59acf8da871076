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

const TYPE_PREFIX = "pulumi-nodejs:dynamic/linuxnet:";

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

/** Builds the picture from the linuxnet resources of a stack's state. Pure; secrets are never read. */
export function topologyFromStack(exported: unknown, title = "host (from the stack)"): Topology {
  const namespaces = new Set<string | undefined>();
  const interfaces = new Map<string, GraphInterface>();
  const edges: GraphEdge[] = [];
  const routes: GraphRoute[] = [];
  const nat: GraphNat[] = [];
  const addIf = (i: GraphInterface) => {
    const prev = interfaces.get(i.id);
    interfaces.set(
      i.id,
      prev ? { ...prev, ...i, addresses: [...new Set([...prev.addresses, ...i.addresses])] } : i,
    );
    namespaces.add(i.namespace);
  };
  for (const { type, outputs: o } of stackResources(exported)) {
    if (!type.startsWith(TYPE_PREFIX)) continue;
    const kind = type.slice(TYPE_PREFIX.length);
    const ns = str(o.namespace);
    if (kind === "Namespace" && str(o.name)) {
      namespaces.add(str(o.name));
    } else if (kind === "Bridge" && str(o.name)) {
      addIf({
        id: ifId(ns, str(o.name)!),
        namespace: ns,
        name: str(o.name)!,
        kind: "bridge",
        addresses: strings(o.addresses),
        up: o.up !== false,
      });
    } else if (kind === "VethPair") {
      const ends = [o.a, o.b].map((e) => (e ?? {}) as Record<string, unknown>);
      const ids: string[] = [];
      for (const end of ends) {
        const name = str(end.name);
        if (!name) continue;
        const ens = str(end.namespace);
        addIf({
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
          if (!interfaces.has(ifId(ens, bridge)))
            addIf({
              id: ifId(ens, bridge),
              namespace: ens,
              name: bridge,
              kind: "bridge",
              addresses: [],
            });
          edges.push({ from: ifId(ens, name), to: ifId(ens, bridge), kind: "port" });
        }
      }
      if (ids.length === 2) {
        const [a, b] =
          str(ends[0]!.namespace) !== undefined || str(ends[1]!.namespace) === undefined
            ? ids
            : [ids[1]!, ids[0]!];
        edges.push({ from: a!, to: b!, kind: "veth" });
      }
    } else if (kind === "Route" && str(o.destination)) {
      routes.push({
        namespace: ns,
        destination: str(o.destination)!,
        via: str(o.via),
        dev: str(o.device),
      });
      namespaces.add(ns);
    } else if (kind === "NatRule") {
      const out = str(o.outInterface);
      const id = `nat:${ns ?? ""}:${nat.length}`;
      nat.push({
        id,
        namespace: ns,
        source: str(o.source),
        outInterface: out,
        target: "MASQUERADE",
      });
      namespaces.add(ns);
      if (out) {
        if (!interfaces.has(ifId(ns, out)))
          addIf({
            id: ifId(ns, out),
            namespace: ns,
            name: out,
            kind: "other",
            addresses: [],
            external: true,
          });
        edges.push({ from: id, to: ifId(ns, out), kind: "nat" });
      }
    }
  }
  const ordered = [...namespaces].sort((a, b) =>
    a === undefined ? 1 : b === undefined ? -1 : a.localeCompare(b),
  );
  return { title, namespaces: ordered, interfaces: [...interfaces.values()], edges, routes, nat };
}
