/**
 * The picture as a standalone SVG, with a simple layered layout of its own
 * (no layout library: the shapes here are shallow trees, and a column per
 * layer reads well).
 */

import { type Topology, routeText } from "./model";

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
      lines: [
        f.name,
        ...f.addresses,
        ...(f.shaping ? [f.shaping] : []),
        ...(f.up === false ? ["DOWN"] : []),
      ],
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
        : e.kind === "tunnel"
          ? `stroke="#208040" stroke-width="2" stroke-dasharray="8,3"`
          : e.kind === "veth"
            ? `stroke="#2060c0" stroke-width="2"`
            : `stroke="#555"`;
    parts.push(
      `<path class="edge ${e.kind}" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}" fill="none" ${style}/>`,
    );
    if (e.kind !== "port") {
      parts.push(
        `<text x="${mid}" y="${(y1 + y2) / 2 - 4}" font-size="10" text-anchor="middle" fill="#555">${e.kind === "veth" ? "veth" : e.kind === "tunnel" ? xml(e.label ?? "vxlan") : "SNAT"}</text>`,
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
