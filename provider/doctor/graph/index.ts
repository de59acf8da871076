/**
 * `linuxnet graph`: a host's network as a picture. One model (namespaces,
 * interfaces, veth pairs, bridge ports, routes, NAT), built either from a live
 * host (`ip -json` across every namespace, `iptables -t nat -S`) or from a
 * stack's state (`pulumi stack export`); then drawn as Mermaid text or as a
 * self-made SVG with a simple layered layout (no layout library: the shapes
 * here are shallow trees, and a column per layer reads well).
 *
 * One file per concern: the model (`model.ts`), building it (`live.ts`,
 * `stack.ts`) and drawing it (`mermaid.ts`, `svg.ts`).
 */

export {
  type GraphEdge,
  type GraphInterface,
  type GraphNat,
  type GraphRoute,
  type Topology,
} from "./model";
export { parseNatRules, readTopology, topologyFromSnapshot, topologyFromWorld } from "./live";
export { stackResources, topologyFromStack } from "./stack";
export { toMermaid } from "./mermaid";
export { layers, toSvg } from "./svg";
