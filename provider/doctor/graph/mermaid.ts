/** The picture as Mermaid text. */

import { type Topology, natText, routeText } from "./model";

function mermaidText(s: string): string {
  return s.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;");
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
      const label = [
        f.name,
        ...f.addresses,
        ...(f.shaping ? [f.shaping] : []),
        ...(f.up === false ? ["DOWN"] : []),
      ]
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
    const arrow =
      e.kind === "veth"
        ? "<-->|veth|"
        : e.kind === "port"
          ? "---"
          : e.kind === "tunnel"
            ? `<-.->|${mermaidText(e.label ?? "vxlan")}|`
            : "-.->|SNAT|";
    lines.push(`  ${id(e.from)} ${arrow} ${id(e.to)}`);
  }
  return lines.join("\n") + "\n";
}
