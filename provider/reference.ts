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

// The API reference's entry point (typedoc.json), and nothing else: the package's own index
// loads the doctor only on first use (a getter, see index.ts), which TypeDoc cannot show as
// the namespace it is to a user; here it is that namespace again, for the reference alone.
export * from "./index";
/**
 * The doctor and the graph as a library, the engine of `linuxnet doctor` and
 * `linuxnet graph` and of {@link ConnectivityCheck}: `diagnose` walks the
 * path from A to B as the kernel would and says where it breaks;
 * `topologyFromStack` and `readTopology` draw a network (`toMermaid`, `toSvg`).
 */
export * as doctor from "./doctor";
