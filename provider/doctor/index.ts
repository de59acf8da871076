/**
 * The doctor and the graph, as a library: `diagnose(host, request)` walks the
 * path from A to B and says where it breaks; `readTopology(host)` and
 * `topologyFromStack(export)` draw the network (`toMermaid`, `toSvg`).
 */

export type {
  CheckStatus,
  DoctorCheck,
  DoctorReport,
  DoctorRequest,
  Endpoint,
  PathHop,
} from "./types";
export { CHECK_ORDER, diagnose, validateRequest } from "./diagnose";
export { diagnoseAcross } from "./across";
export { formatPath, formatReport, type FormatOptions } from "./report";
export {
  type GraphEdge,
  type GraphInterface,
  type GraphNat,
  type GraphRoute,
  type Topology,
  readTopology,
  stackResources,
  toMermaid,
  toSvg,
  topologyFromStack,
  topologyFromWorld,
} from "./graph";
