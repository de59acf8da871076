/**
 * pulumi-linuxnet: Pulumi resources that build Linux host networks over SSH.
 *
 * ```ts
 * import * as linuxnet from "pulumi-linuxnet";
 * const blue = new linuxnet.Namespace("blue", { connection, name: "ns-blue" });
 * ```
 *
 * @packageDocumentation
 */

export type { ConnectionArgs } from "./transport/connection";
export { Namespace, type NamespaceArgs } from "./resources/namespace";
export { Bridge, type BridgeArgs } from "./resources/bridge";
export { VethPair, type VethPairArgs, type VethEndArgs, type VethEnd } from "./resources/veth";
export { Route, type RouteArgs } from "./resources/route";
export { NatRule, type NatRuleArgs } from "./resources/nat";
export {
  CommandError,
  TransportError,
  type TransportErrorLevel,
  ValidationError,
  type ValidationFailure,
} from "./errors";
export {
  ConnectivityCheck,
  type ConnectivityCheckArgs,
  type CheckEndpoint,
} from "./resources/connectivity";
/**
 * The doctor and the graph as a library, the engine of `linuxnet doctor` and
 * `linuxnet graph` and of {@link ConnectivityCheck}: `diagnose` walks the
 * path from A to B as the kernel would and says where it breaks;
 * `topologyFromStack` and `readTopology` draw a network (`toMermaid`, `toSvg`).
 */
export * as doctor from "./doctor";
