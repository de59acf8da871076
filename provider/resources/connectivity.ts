/**
 * ConnectivityCheck: an assertion a stack carries about its own network. It
 * changes nothing on the host; `create` (and `update`) run the doctor and fail
 * `pulumi up` with its report when the declared path does not work, `read`
 * (refresh) runs it again and reports a broken path as drift (`healthy:
 * false`), and the next `up` checks again. `delete` has nothing to remove.
 */

import * as pulumi from "@pulumi/pulumi";
import { randomBytes } from "node:crypto";
import { type ConnectionArgs, resolveConnection } from "../transport/connection";
import type { Host } from "../transport";
import type { LiveHostReader } from "../host/reader";
import { LinuxnetResource, connectionInput } from "./program";
import ipaddr from "ipaddr.js";
import { type BaseInputs, containsUnknown, isObject, kindOf } from "./kind";
import { type Field, checked, connection, declareKind, integer, object } from "./declare";
import { isUnknown, namespaceNameProblem } from "./validate";
import type { DoctorReport, DoctorRequest } from "../doctor/types";
import type * as DiagnoseModule from "../doctor/diagnose";
import type * as ReportModule from "../doctor/report";
import type * as AcrossModule from "../doctor/across";
import type * as TransportModule from "../transport/index";

/**
 * One end of the checked path, as the provider records it: the plain value of
 * {@link ConnectivityCheckArgs.from} or {@link ConnectivityCheckArgs.to}.
 */
export interface CheckEndpoint {
  /** A namespace: `"ns-blue"`. The host's own when unset. */
  readonly namespace?: string;
  /**
   * An IPv4 address: for `from`, the source to send from; for `to`, the
   * destination, on this host or beyond it: `"10.0.0.2"`.
   */
  readonly address?: string;
  /**
   * For `to` only: the connection to the host that holds the destination,
   * when it is another host than the check's own. The doctor then follows the
   * path from this host into that one (see `diagnoseAcross`).
   */
  readonly connection?: Record<string, unknown> | null;
}

/** Inputs of a ConnectivityCheck, as the provider sees them. */
export interface ConnectivityInputs extends BaseInputs {
  readonly from: CheckEndpoint;
  readonly to: CheckEndpoint;
  /** A TCP port: the probe is a TCP connect instead of a ping. */
  readonly port?: number;
  readonly protocol?: "icmp" | "tcp";
}

/** Outputs of a ConnectivityCheck. */
export interface ConnectivityOutputs extends ConnectivityInputs {
  /** Whether the path worked when last checked (create, update or refresh). */
  readonly healthy: boolean;
  /** The first broken check's id (`bridge.up`, `nat.masquerade`, ...), when broken. */
  readonly firstFailure?: string;
  /** One line: what was checked and how it ended. */
  readonly summary: string;
}

/**
 * The destination host's connection (`to.connection`): checked as the
 * top-level `connection` is, its failures named under `to.connection`;
 * optional, and unset or unknown passes.
 */
const destinationConnection: Field = {
  type: {
    check(value, ctx) {
      if (value === undefined || value === null || isUnknown(value)) return undefined;
      if (!isObject(value)) {
        ctx.checker.fail(
          ctx.path,
          `must be a connection object { host, port?, user?, ... }, got ${kindOf(value)}`,
        );
        return undefined;
      }
      if (containsUnknown(value)) return undefined;
      ctx.checker.failures.push(...resolveConnection(value, ctx.path).failures);
      return undefined;
    },
  },
  change: "update",
};

/** One end of the path: a namespace, an IPv4 address, or both (`to` needs one of them). */
function endpoint(options: { required: boolean }): Field {
  return {
    type: object(
      {
        ...(options.required ? { connection: destinationConnection } : {}),
        namespace: { type: checked(namespaceNameProblem), change: "update" },
        address: {
          type: checked((address) =>
            typeof address !== "string" || !ipaddr.IPv4.isValidFourPartDecimal(address)
              ? `must be an IPv4 address, got ${JSON.stringify(address)}`
              : undefined,
          ),
          change: "update",
        },
      },
      options.required
        ? {
            required: true,
            rule(value, ctx) {
              if (value.namespace === undefined && value.address === undefined) {
                ctx.checker.fail(ctx.path, "needs a namespace, an address, or both");
              } else if (
                value.connection !== undefined &&
                value.connection !== null &&
                value.address === undefined
              ) {
                // A namespace alone names no address the first host can route to.
                ctx.checker.fail(
                  `${ctx.path}.address`,
                  "is required with to.connection: the destination's address on the other host",
                );
              }
            },
          }
        : { fallback: {} },
    ),
    change: "update",
    // The program sends `{}`, as check would make it: the host's own namespace.
    programDefault: options.required ? undefined : {},
  };
}

/** The doctor's request for a check's inputs. Pure. */
export function requestOf(inputs: ConnectivityInputs): DoctorRequest {
  const tcp =
    inputs.protocol === "tcp" || (inputs.protocol === undefined && inputs.port !== undefined);
  return {
    from: { ...inputs.from },
    to: {
      ...(inputs.to.namespace !== undefined ? { namespace: inputs.to.namespace } : {}),
      ...(inputs.to.address !== undefined ? { address: inputs.to.address } : {}),
    },
    ...(inputs.port !== undefined ? { port: inputs.port } : {}),
    protocol: tcp ? "tcp" : "icmp",
  };
}

/** The one-line summary of a report. Pure. */
export function summaryOf(report: DoctorReport): string {
  const from = `${report.source.namespace ?? "host"}${report.source.address ? ` ${report.source.address}` : ""}`;
  const to = `${report.destination.address}${report.destination.namespace ? ` (${report.destination.namespace})` : ""}`;
  const f = report.firstFailure;
  return f
    ? `${from} → ${to}: broken at ${f.id}: ${f.title} does not hold${f.fix ? `; fix: ${f.fix}` : ""}`
    : `${from} → ${to}: healthy, ${report.checks.filter((c) => c.status === "ok").length} checks passed`;
}

/**
 * Runs the doctor. Loaded here, when a check runs, and not with this file: a
 * user's program loads every kind's file, and has no use for the doctor. By
 * `import()` with the built file's name, which both Node (from dist/) and the
 * test runner (from the TypeScript source) resolve; `require` of a source
 * file works in neither the test runner nor ESM.
 */
async function run(host: Host, inputs: ConnectivityInputs): Promise<DoctorReport> {
  const next = await destinationHost(inputs);
  if (next) {
    const { diagnoseAcross } = (await import("../doctor/across.js")) as typeof AcrossModule;
    return diagnoseAcross([host, next], requestOf(inputs));
  }
  const { diagnose } = (await import("../doctor/diagnose.js")) as typeof DiagnoseModule;
  return diagnose(host, requestOf(inputs));
}

/**
 * The host `to.connection` names, over the pooled SSH session as any
 * resource's; none when the destination is on (or beyond) the check's own host.
 */
async function destinationHost(inputs: ConnectivityInputs): Promise<Host | undefined> {
  const raw = inputs.to.connection;
  if (raw === undefined || raw === null) return undefined;
  const { connection, failures } = resolveConnection(raw, "to.connection");
  if (!connection) throw new Error(failures.map((f) => `${f.property} ${f.reason}`).join("; "));
  const { hostFor } = (await import("../transport/index.js")) as typeof TransportModule;
  return hostFor(connection);
}

/** Runs the doctor; throws its whole report when the path is broken. */
async function assertHealthy(host: Host, inputs: ConnectivityInputs): Promise<ConnectivityOutputs> {
  const report = await run(host, inputs);
  if (!report.healthy) {
    const { formatReport } = (await import("../doctor/report.js")) as typeof ReportModule;
    throw new Error(
      `ConnectivityCheck ${inputs.resourceName ?? ""}: the path is broken on ${report.host}\n${formatReport(report)}`,
    );
  }
  return { ...inputs, healthy: true, summary: summaryOf(report) };
}

/** The ConnectivityCheck kind: its inputs as declared, and its lifecycle. */
export const connectivityKind = declareKind<ConnectivityInputs, ConnectivityOutputs>({
  name: "ConnectivityCheck",
  // Nothing on the host to replace: any change is an update, which checks again.
  fields: {
    connection: connection("update"),
    from: endpoint({ required: false }),
    to: endpoint({ required: true }),
    port: { type: integer(1, 65535), change: "update" },
    protocol: {
      type: {
        check(value, ctx) {
          if (value === undefined || isUnknown(value)) return undefined;
          if (value !== "icmp" && value !== "tcp")
            ctx.checker.fail(ctx.path, `must be "icmp" or "tcp"`);
          else if (value === "tcp" && ctx.root.port === undefined)
            ctx.checker.fail("port", "is required for a TCP check");
          return undefined;
        },
      },
      change: "update",
    },
  },
  outputs: ["healthy", "firstFailure", "summary"],
  snapshotRead: false,
  deleteBeforeReplace: false,
  // A path found broken at refresh asks for an update, which checks again (and fails `up` while it stays broken).
  stale: (olds) => olds.healthy === false,

  idOf: () => `check-${randomBytes(4).toString("hex")}`,

  async create(host, inputs) {
    const outs = await assertHealthy(host, inputs);
    return outs;
  },

  async read(reader, _id, props) {
    // A check looks at the path as it is now: the runtime hands this read a live reader.
    if (!("host" in reader))
      throw new Error("ConnectivityCheck reads the host live, not from a snapshot");
    const report = await run((reader as LiveHostReader).host, props);
    return {
      ...props,
      healthy: report.healthy,
      summary: summaryOf(report),
      ...(report.firstFailure
        ? { firstFailure: report.firstFailure.id }
        : { firstFailure: undefined }),
    };
  },

  async update(host, _id, _olds, news) {
    return assertHealthy(host, news);
  },

  async delete() {
    // A check leaves nothing on the host.
  },
});

/**
 * Arguments of a {@link ConnectivityCheck}. A check has nothing on the host
 * to replace: any change, the connection's host included, updates it in
 * place, which runs the check again.
 */
export interface ConnectivityCheckArgs {
  /**
   * The host to check on, `{ host: "10.1.0.2", privateKey: key }`; the stack's `linuxnet:*` config
   * when omitted. Any change updates in place (see {@link ConnectionArgs}).
   */
  connection?: pulumi.Input<ConnectionArgs>;
  /**
   * Where from: `{ namespace: blue.name }`. The host's own namespace, with the
   * source address the kernel picks, when omitted. Updates in place.
   */
  from?: pulumi.Input<{
    /** The namespace to send from; the host's own when omitted. */
    namespace?: pulumi.Input<string>;
    /** The IPv4 address to send from; the kernel's choice for the route when omitted. */
    address?: pulumi.Input<string>;
  }>;
  /**
   * Where to, required: `{ namespace: green.name }`, `{ address: "192.0.2.1" }`
   * (beyond the host), or both. Updates in place.
   */
  to: pulumi.Input<{
    /**
     * The destination's namespace on this host. With no `address`, its first
     * global IPv4 address is the destination.
     */
    namespace?: pulumi.Input<string>;
    /** The destination's IPv4 address, on this host or beyond it: `"10.0.0.2"`. */
    address?: pulumi.Input<string>;
    /**
     * The host that holds the destination, when it is another one:
     * `{ host: "10.1.0.3", privateKey: key }`, checked as `connection` is.
     * The doctor then follows the path out of the check's host into that one
     * (routed; it must hold `address`, which is then required), names a fault
     * on either host, and probes from the source. Its own credentials only
     * (not the stack config's); a `to` that has one is stored as a secret, as
     * `connection` is. Updates in place.
     */
    connection?: pulumi.Input<ConnectionArgs>;
  }>;
  /**
   * A TCP port, 1 to 65535: probe with a TCP connect instead of a ping,
   * `80`. None when omitted. Updates in place.
   */
  port?: pulumi.Input<number>;
  /**
   * The probe: `"icmp"` (echo) or `"tcp"` (a connect to `port`, which it
   * then requires). When omitted, `"tcp"` if `port` is given, else `"icmp"`.
   * Updates in place.
   */
  protocol?: pulumi.Input<"icmp" | "tcp">;
}

/**
 * An assertion that one point of the network reaches another: `pulumi up`
 * fails with the doctor's hop-by-hop report while it does not. Give it
 * `dependsOn` the resources that build the path.
 *
 * ```ts
 * new linuxnet.ConnectivityCheck("blue-to-green", {
 *   from: { namespace: blue.name }, to: { namespace: green.name },
 * }, { dependsOn: [blueRoute, greenRoute] });
 * ```
 */
export class ConnectivityCheck extends LinuxnetResource {
  /**
   * True when the path worked at the last check (create, update or refresh).
   * A refresh that finds it broken records false, and the next `up` checks again.
   */
  declare readonly healthy: pulumi.Output<boolean>;
  /** The first failed check's id (`bridge.up`, `nat.masquerade`, ...), when broken. */
  declare readonly firstFailure: pulumi.Output<string | undefined>;
  /**
   * One line: what was checked and how it ended, with the fix when broken:
   * `ns-blue 10.0.0.1 → 10.0.0.2 (ns-green): healthy, 14 checks passed`.
   */
  declare readonly summary: pulumi.Output<string>;
  /**
   * @param name - The resource's name in the stack.
   * @param args - The path to check: `to`, and optionally `from`, `port`, `protocol`.
   * @param opts - Pulumi resource options; `dependsOn` the resources that build the path.
   */
  constructor(name: string, args: ConnectivityCheckArgs, opts?: pulumi.CustomResourceOptions) {
    super(connectivityKind, name, { ...args, to: destinationInput(args.to) }, opts);
  }
}

/**
 * `to` as the program sends it: with a `connection`, a secret as a whole
 * (where to connect and its credentials, as the top-level `connection`);
 * without one, as given.
 */
export function destinationInput(to: ConnectivityCheckArgs["to"]): ConnectivityCheckArgs["to"] {
  type To = { connection?: pulumi.Input<ConnectionArgs> } & Record<string, unknown>;
  const secretTo = (t: To) =>
    pulumi.secret({
      ...t,
      connection: connectionInput(t.connection!),
    }) as ConnectivityCheckArgs["to"];
  if (pulumi.Output.isInstance(to) || to instanceof Promise) {
    return pulumi
      .output(to as pulumi.Input<To>)
      .apply((t) =>
        isObject(t) && t.connection !== undefined && t.connection !== null ? secretTo(t as To) : t,
      ) as ConnectivityCheckArgs["to"];
  }
  const plain = to as To | undefined;
  if (!isObject(plain) || plain.connection === undefined || plain.connection === null) return to;
  return secretTo(plain);
}
