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
export { Sysctl, type SysctlArgs } from "./resources/sysctl";
export { PortForward, type PortForwardArgs } from "./resources/portforward";
export { Vxlan, type VxlanArgs } from "./resources/vxlan";
export { LinkShaping, type LinkShapingArgs } from "./resources/shaping";
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
import type * as DoctorModule from "./doctor";
/**
 * The doctor and the graph as a library, the engine of `linuxnet doctor` and
 * `linuxnet graph` and of {@link ConnectivityCheck}: `diagnose` walks the
 * path from A to B as the kernel would and says where it breaks;
 * `topologyFromStack` and `readTopology` draw a network (`toMermaid`, `toSvg`).
 */
export declare const doctor: typeof DoctorModule;
/** The doctor's types, as `doctor.DoctorReport` (the API reference shows them in place, see docs.ts). */
// eslint-disable-next-line @typescript-eslint/no-namespace -- types only, merged with the lazy value above
export declare namespace doctor {
  export type CheckStatus = DoctorModule.CheckStatus;
  export type DoctorCheck = DoctorModule.DoctorCheck;
  export type DoctorReport = DoctorModule.DoctorReport;
  export type DoctorRequest = DoctorModule.DoctorRequest;
  export type Endpoint = DoctorModule.Endpoint;
  export type PathHop = DoctorModule.PathHop;
  export type FormatOptions = DoctorModule.FormatOptions;
  export type GraphEdge = DoctorModule.GraphEdge;
  export type GraphInterface = DoctorModule.GraphInterface;
  export type GraphNat = DoctorModule.GraphNat;
  export type GraphRoute = DoctorModule.GraphRoute;
  export type Topology = DoctorModule.Topology;
}
// Loaded on first use, not with the package: a program that only declares resources loads
// neither the doctor nor what it reads hosts with. The getter is written in the one form
// Node's import of a CommonJS module from ESM recognises (`return a.b`), so that
// `import { doctor } from "pulumi-linuxnet"` finds it (and, there, loads it at import).
const onFirstUse = {
  get doctor(): typeof DoctorModule {
    return require("./doctor") as typeof DoctorModule;
  },
};
Object.defineProperty(exports, "doctor", {
  enumerable: true,
  get: function () {
    return onFirstUse.doctor;
  },
});

/**
 * Lab hosts: stand-in VMs made on the machine that runs `pulumi up` (root
 * needed), to try a stack without a spare machine. See {@link lab.LabHost}.
 */
export * as lab from "./lab";
