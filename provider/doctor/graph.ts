/**
 * `linuxnet graph`: a host's network as a picture. One model (namespaces,
 * interfaces, veth pairs, bridge ports, routes, NAT), built either from a live
 * host (`ip -json` across every namespace, `iptables -t nat -S`) or from a
 * stack's state (`pulumi stack export`); then drawn as Mermaid text or as a
 * self-made SVG with a simple layered layout (no layout library: the shapes
 * here are shallow trees, and a column per layer reads well).
 */

import type { Host } from "../transport";
import { ipArgv, parseJsonList } from "../host/ip";
import { iptablesArgv, splitRuleLine } from "../host/iptables";
import { type World, readWorld, vethPeer } from "./world";

/** An interface in the picture. */
export interface GraphInterface {
  /** Unique in the picture: `<namespace>/<name>`, with an empty namespace for the host's (`"/br0"`). */
  readonly id: string;
  /** Its namespace; undefined for the host's own. */
  readonly namespace?: string;
  /** The interface name: `"veth-blue"`. */
  readonly name: string;
  /** What to draw it as; `other` is anything neither a veth nor a bridge (a NIC, a tunnel). */
  readonly kind: "veth" | "bridge" | "other";
  /** Its addresses in CIDR form: `["10.0.0.1/24"]`. */
  readonly addresses: readonly string[];
  /** Administratively up; undefined when the source does not say. */
  readonly up?: boolean;
  /** Leads off the host (a NIC, a veth into a namespace with no name). */
  readonly external?: boolean;
}

/** A line between two nodes. */
export interface GraphEdge {
  /** A node's id: an interface's {@link GraphInterface.id} or a NAT rule's {@link GraphNat.id}. */
  readonly from: string;
  /** The other node's id. */
  readonly to: string;
  /**
   * `veth`: the two ends of a pair (the end in a named namespace first);
   * `port`: an interface to its bridge; `nat`: a rule to its outgoing interface.
   */
  readonly kind: "veth" | "port" | "nat";
}

/** A route worth drawing (not the kernel's own connected routes). */
export interface GraphRoute {
  /** The namespace whose table holds it; undefined for the host's own. */
  readonly namespace?: string;
  /** `"default"` or a network: `"10.1.0.0/16"`. */
  readonly destination: string;
  /** The gateway, if any. */
  readonly via?: string;
  /** The outgoing interface, if known. */
  readonly dev?: string;
}

/** A source-NAT rule. */
export interface GraphNat {
  /** Unique in the picture: `nat:<namespace>:<index>`. */
  readonly id: string;
  /** The namespace the rule lives in; undefined for the host's own. */
  readonly namespace?: string;
  /** The source network it matches; undefined for any. */
  readonly source?: string;
  /** The interface it matches on the way out; undefined for any. */
  readonly outInterface?: string;
  /** `"MASQUERADE"` or `"SNAT"`. */
  readonly target: string;
}

/** The whole picture. */
export interface Topology {
  /** A caption: `"host 10.1.0.2"` for a live host; for a stack, the title given. */
  readonly title: string;
  /** Namespace names; undefined is the host's own. */
  readonly namespaces: readonly (string | undefined)[];
  /** Every interface but loopback. */
  readonly interfaces: readonly GraphInterface[];
  /** Veth pairs, bridge ports and NAT rules' ways out. */
  readonly edges: readonly GraphEdge[];
  /** The routes, less the kernel's own connected ones. */
  readonly routes: readonly GraphRoute[];
  /** The source-NAT rules. */
  readonly nat: readonly GraphNat[];
}

function ifId(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

// -- from a live host --------------------------------------------------------------------

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
    }>(text)) {
      if (r.protocol === "kernel") continue;
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

/** Source-NAT rules of `iptables -t nat -S POSTROUTING`. Pure. */
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

/** Reads a live host: every namespace's links, routes and NAT rules. */
export async function readTopology(host: Host): Promise<Topology> {
  const world = await readWorld(host);
  const routes = new Map<string | undefined, string>();
  const nat = new Map<string | undefined, string>();
  await Promise.all(
    world.namespaces.map(async (ns) => {
      const [r, n] = await Promise.all([
        host.run(ipArgv(ns.name, "-json", "route", "show")),
        host.run(iptablesArgv(ns.name, "nat", "-S", "POSTROUTING")),
      ]);
      if (r.exitCode === 0) routes.set(ns.name, r.stdout);
      if (n.exitCode === 0) nat.set(ns.name, n.stdout);
    }),
  );
  return topologyFromWorld(`host ${host.name}`, world, routes, nat);
}

// -- from a stack ------------------------------------------------------------------------

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

// -- Mermaid -----------------------------------------------------------------------------

function mermaidText(s: string): string {
  return s.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;");
}

function routeText(r: GraphRoute): string {
  return `${r.destination}${r.via ? ` via ${r.via}` : ""}${r.dev ? ` dev ${r.dev}` : ""}`;
}

function natText(n: GraphNat): string {
  return `${n.target} ${n.source ?? "any"}${n.outInterface ? ` out ${n.outInterface}` : ""}`;
}

/** The picture as a Mermaid flowchart: a subgraph per namespace. Pure. */
export function toMermaid(t: Topology): string {
  const ids = new Map<string, string>();
  const id = (key: string) => {
    if (!ids.has(key)) ids.set(key, `n${ids.size + 1}`);
    return ids.get(key)!;
  };
  const lines = ["flowchart LR"];
  lines.push(`  %% ${mermaidText(t.title)}`);
  const order = [
    ...t.namespaces.filter((n) => n !== undefined),
    ...(t.namespaces.includes(undefined) ? [undefined] : []),
  ];
  order.forEach((ns, i) => {
    lines.push(`  subgraph ns${i}["${mermaidText(ns ?? "host")}"]`);
    for (const f of t.interfaces.filter((x) => x.namespace === ns)) {
      const label = [f.name, ...f.addresses, ...(f.up === false ? ["DOWN"] : [])]
        .map(mermaidText)
        .join("<br/>");
      const shape =
        f.kind === "bridge" ? [`{{"`, `"}}`] : f.external ? [`(["`, `"])`] : [`["`, `"]`];
      lines.push(`    ${id(f.id)}${shape[0]}${label}${shape[1]}`);
    }
    const routes = t.routes.filter((r) => r.namespace === ns);
    if (routes.length > 0)
      lines.push(
        `    ${id(`routes:${ns ?? ""}`)}[/"${routes.map((r) => mermaidText(routeText(r))).join("<br/>")}"/]`,
      );
    for (const n of t.nat.filter((x) => x.namespace === ns))
      lines.push(`    ${id(n.id)}>"${mermaidText(natText(n))}"]`);
    lines.push("  end");
  });
  for (const e of t.edges) {
    if (!ids.has(e.from) || !ids.has(e.to)) continue;
    const arrow = e.kind === "veth" ? "<-->|veth|" : e.kind === "port" ? "---" : "-.->|SNAT|";
    lines.push(`  ${id(e.from)} ${arrow} ${id(e.to)}`);
  }
  return lines.join("\n") + "\n";
}

// -- SVG ---------------------------------------------------------------------------------

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const NODE_W = 170;
const GAP_X = 70;
const GAP_Y = 18;
const LINE_H = 15;
const PAD = 14;
const HEADER = 24;
const MARGIN = 20;

function xml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/**
 * Columns: interfaces inside named namespaces first, then what they connect
 * to, one layer per step along veth and port edges; what nothing reaches (an
 * uplink) last, NAT beside its interface. Pure.
 */
export function layers(t: Topology): Map<string, number> {
  const rank = new Map<string, number>();
  for (const f of t.interfaces)
    if (f.namespace !== undefined && f.kind !== "bridge") rank.set(f.id, 0);
  for (let changed = true, guard = 0; changed && guard < 50; guard++) {
    changed = false;
    for (const e of t.edges) {
      if (e.kind === "nat") continue;
      const a = rank.get(e.from);
      const b = rank.get(e.to);
      if (a !== undefined && (b === undefined || (e.kind === "port" && b < a + 1))) {
        rank.set(e.to, a + 1);
        changed = true;
      } else if (e.kind === "veth" && b !== undefined && a === undefined) {
        rank.set(e.from, b + 1);
        changed = true;
      }
    }
  }
  const max = Math.max(0, ...rank.values());
  for (const f of t.interfaces)
    if (!rank.has(f.id)) rank.set(f.id, f.namespace === undefined ? max + 1 : 0);
  for (const n of t.nat) {
    const out = t.interfaces.find((f) => f.namespace === n.namespace && f.name === n.outInterface);
    rank.set(n.id, (out ? rank.get(out.id)! : max + 1) + 1);
  }
  return rank;
}

/** The picture as a standalone SVG document. Pure. */
export function toSvg(t: Topology): string {
  const rank = layers(t);
  const nodes = [
    ...t.interfaces.map((f) => ({
      id: f.id,
      namespace: f.namespace,
      lines: [f.name, ...f.addresses, ...(f.up === false ? ["DOWN"] : [])],
      kind: f.external ? "external" : f.kind,
    })),
    ...t.nat.map((n) => ({
      id: n.id,
      namespace: n.namespace,
      lines: [n.target, n.source ?? "any", ...(n.outInterface ? [`out ${n.outInterface}`] : [])],
      kind: "nat",
    })),
  ];
  const box = new Map<string, Box>();
  const columns = Math.max(0, ...rank.values()) + 1;
  const nsOrder = [...t.namespaces.filter((n) => n !== undefined), undefined];
  const nodeH = (lines: string[]) => 10 + lines.length * LINE_H;
  const neighbours = (id: string) =>
    t.edges.filter((e) => e.from === id || e.to === id).map((e) => (e.from === id ? e.to : e.from));

  // Column 0 stacks the named namespaces, each with room for its header and routes.
  const nsTop = new Map<string | undefined, number>();
  let y = MARGIN + HEADER;
  for (const ns of nsOrder) {
    if (ns === undefined) continue;
    const mine = nodes
      .filter((n) => n.namespace === ns && rank.get(n.id) === 0)
      .sort((a, b) => a.id.localeCompare(b.id));
    if (mine.length === 0 && !t.routes.some((r) => r.namespace === ns)) continue;
    nsTop.set(ns, y);
    for (const n of mine) {
      box.set(n.id, { x: MARGIN + PAD, y, w: NODE_W, h: nodeH(n.lines) });
      y += nodeH(n.lines) + GAP_Y;
    }
    const routes = t.routes.filter((r) => r.namespace === ns).length;
    y += routes * LINE_H + PAD + HEADER + GAP_Y;
  }
  // Later columns follow their neighbours (barycentre), never overlapping.
  for (let c = 1; c < columns; c++) {
    const mine = nodes.filter((n) => rank.get(n.id) === c);
    const want = (id: string) => {
      const ys = neighbours(id)
        .map((n) => box.get(n))
        .filter((b): b is Box => b !== undefined)
        .map((b) => b.y);
      return ys.length ? ys.reduce((s, v) => s + v, 0) / ys.length : Number.MAX_SAFE_INTEGER;
    };
    mine.sort((a, b) => want(a.id) - want(b.id) || a.id.localeCompare(b.id));
    let cursor = MARGIN + HEADER + (c === 1 ? 0 : 0);
    for (const n of mine) {
      const w = want(n.id);
      const top = Math.max(cursor, w === Number.MAX_SAFE_INTEGER ? cursor : w);
      box.set(n.id, {
        x: MARGIN + PAD + c * (NODE_W + GAP_X),
        y: top,
        w: NODE_W,
        h: nodeH(n.lines),
      });
      cursor = top + nodeH(n.lines) + GAP_Y;
    }
  }

  const parts: string[] = [];
  const nsBoxes: string[] = [];
  let width = 0;
  let height = 0;
  for (const ns of nsOrder) {
    const mine = nodes
      .filter((n) => n.namespace === ns)
      .map((n) => box.get(n.id)!)
      .filter(Boolean);
    const routes = t.routes.filter((r) => r.namespace === ns);
    if (mine.length === 0 && routes.length === 0) continue;
    const x0 = mine.length > 0 ? Math.min(...mine.map((b) => b.x)) - PAD : MARGIN;
    const y0 =
      (mine.length > 0 ? Math.min(...mine.map((b) => b.y)) : (nsTop.get(ns) ?? MARGIN + HEADER)) -
      HEADER;
    const x1 = Math.max(...mine.map((b) => b.x + b.w), x0 + NODE_W + PAD) + PAD;
    const y1 =
      Math.max(...mine.map((b) => b.y + b.h), y0 + HEADER) +
      (routes.length ? routes.length * LINE_H + 6 : 0) +
      PAD;
    const fill = ns === undefined ? "#f4f6f8" : "#eef5ff";
    nsBoxes.push(
      `<g class="namespace"><rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" rx="8" fill="${fill}" stroke="#8a99a8"/>` +
        `<text x="${x0 + 8}" y="${y0 + 16}" font-weight="bold">${xml(ns ?? t.title)}</text>` +
        routes
          .map(
            (r, i) =>
              `<text x="${x0 + 8}" y="${y1 - PAD - (routes.length - 1 - i) * LINE_H}" font-size="11" fill="#445">${xml(routeText(r))}</text>`,
          )
          .join("") +
        `</g>`,
    );
    width = Math.max(width, x1);
    height = Math.max(height, y1);
  }
  // The host's box goes underneath, so that a router namespace inside it stays visible.
  const hostFirst =
    nsBoxes.length > 0 && nsOrder.at(-1) === undefined ? [nsBoxes.pop()!, ...nsBoxes] : nsBoxes;
  parts.push(...hostFirst);

  for (const e of t.edges) {
    const a = box.get(e.from);
    const b = box.get(e.to);
    if (!a || !b) continue;
    const [l, r] = a.x <= b.x ? [a, b] : [b, a];
    const x1 = l.x + l.w;
    const y1 = l.y + l.h / 2;
    const x2 = r.x === l.x ? r.x + r.w : r.x;
    const y2 = r.y + r.h / 2;
    const mid = (x1 + x2) / 2;
    const style =
      e.kind === "nat"
        ? `stroke="#b03030" stroke-dasharray="5,4"`
        : e.kind === "veth"
          ? `stroke="#2060c0" stroke-width="2"`
          : `stroke="#555"`;
    parts.push(
      `<path class="edge ${e.kind}" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}" fill="none" ${style}/>`,
    );
    if (e.kind !== "port") {
      parts.push(
        `<text x="${mid}" y="${(y1 + y2) / 2 - 4}" font-size="10" text-anchor="middle" fill="#555">${e.kind === "veth" ? "veth" : "SNAT"}</text>`,
      );
    }
  }
  const colour: Record<string, string> = {
    veth: "#2060c0",
    bridge: "#d08000",
    external: "#707070",
    nat: "#b03030",
    other: "#505050",
  };
  for (const n of nodes) {
    const b = box.get(n.id);
    if (!b) continue;
    const rx = n.kind === "bridge" ? 12 : n.kind === "external" ? b.h / 2 : 4;
    parts.push(
      `<g class="node ${n.kind}"><rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="${rx}" fill="#fff" stroke="${colour[n.kind] ?? "#505050"}" stroke-width="1.5"/>` +
        n.lines
          .map(
            (line, i) =>
              `<text x="${b.x + b.w / 2}" y="${b.y + 17 + i * LINE_H}" text-anchor="middle"${i === 0 ? ` font-weight="bold"` : ` font-size="11"`}>${xml(line)}</text>`,
          )
          .join("") +
        `</g>`,
    );
    width = Math.max(width, b.x + b.w);
    height = Math.max(height, b.y + b.h);
  }
  const W = width + MARGIN;
  const H = height + MARGIN;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(t.title)}</title>`,
    ...parts,
    `</svg>`,
    "",
  ].join("\n");
}
