/**
 * Route: one route in a namespace or on the host: `default` or a network, via
 * a gateway and/or out of a device. Its identity in the kernel is (table,
 * destination, metric); the gateway and device can change in place.
 */

import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../transport/connection";
import { LinuxnetResource } from "./program";
import { CommandError } from "../errors";
import type { Host } from "../transport";
import { liveReader } from "../host/reader";
import { ipArgv } from "../host/ip";
import { type BaseInputs, throwIfStepFailed, transactional } from "./kind";
import { type FieldType, adoptField, checked, connection, declareKind, integer } from "./declare";
import {
  ExistsError,
  ROUTE_PROTOCOL,
  markFor,
  parseRecord,
  planRecordRead,
  planRecordRemove,
  planRecordWrite,
  routeRecord,
} from "./owner";
import {
  interfaceNameProblem,
  isUnknown,
  namespaceNameProblem,
  parseAddress,
  parseNetwork,
  shown,
} from "./validate";

/** Inputs of a Route, as the provider sees them. */
export interface RouteInputs extends BaseInputs {
  /** The namespace whose routing table holds it; the host's when unset. */
  readonly namespace?: string;
  /** `default`, or a network in CIDR form (`10.1.0.0/16`). */
  readonly destination: string;
  /** The gateway. */
  readonly via?: string;
  /** The outgoing interface. */
  readonly device?: string;
  /** The route's priority; the kernel's default (0 for IPv4) when unset. */
  readonly metric?: number;
  /** The routing table; `main`. */
  readonly table?: string;
  /** Take over an existing unmarked route of this destination, table and metric. */
  readonly adopt?: boolean;
}

/** Outputs of a Route. */
export type RouteOutputs = RouteInputs;

/** A route as `ip -json route` reports it (the fields we use). */
interface RouteState {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly metric?: number;
  readonly protocol?: string;
}

/** The words that name a route in the kernel: destination, table and metric. */
function selector(r: RouteInputs): string[] {
  return [
    r.destination,
    ...(r.table && r.table !== "main" ? ["table", r.table] : []),
    ...(r.metric !== undefined ? ["metric", String(r.metric)] : []),
  ];
}

/** The next hop, and our protocol number: the route's mark of ownership (owner.ts). */
function nexthop(r: RouteInputs): string[] {
  return [
    ...(r.via ? ["via", r.via] : []),
    ...(r.device ? ["dev", r.device] : []),
    "proto",
    String(ROUTE_PROTOCOL),
  ];
}

/** Equivalent to: `ip [-n NS] route add DEST [table T] [metric M] [via GW] [dev DEV] proto 76` */
export function planRouteAdd(r: RouteInputs): string[] {
  return ipArgv(r.namespace, "route", "add", ...selector(r), ...nexthop(r));
}

/** Equivalent to: `ip [-n NS] route replace DEST [table T] [metric M] [via GW] [dev DEV] proto 76` */
export function planRouteReplace(r: RouteInputs): string[] {
  return ipArgv(r.namespace, "route", "replace", ...selector(r), ...nexthop(r));
}

/**
 * What a route's record says of it after its mark, for the orphans command:
 * its namespace (`-` for the host's), table, destination and metric.
 */
export function routeRecordLines(r: RouteInputs): string[] {
  return [
    r.namespace ?? "-",
    r.table ?? "main",
    r.destination,
    String(r.metric ?? defaultMetric(r)),
    isIpv6(r) ? "inet6" : "inet",
  ];
}

/** The record that names a route's resource (a route cannot carry a name): see owner.ts. */
export function routeRecordOf(r: RouteInputs): string {
  return routeRecord(r.namespace, r.table ?? "main", r.destination, r.metric ?? defaultMetric(r));
}

/**
 * Deletes exactly the route found: its metric always written out and its
 * next hop as the kernel reports it (which may have changed behind our
 * back), because `ip route del` with no metric, or metric 0, matches a route
 * of any metric, someone else's included.
 * Equivalent to: `ip [-n NS] route del DEST [table T] metric M [via GW] [dev DEV]`
 */
export function planRouteDelete(
  r: RouteInputs,
  found: { gateway?: string; dev?: string },
): string[] {
  return ipArgv(
    r.namespace,
    "route",
    "del",
    r.destination,
    ...(r.table && r.table !== "main" ? ["table", r.table] : []),
    "metric",
    String(r.metric ?? defaultMetric(r)),
    ...(found.gateway ? ["via", found.gateway] : []),
    ...(found.dev ? ["dev", found.dev] : []),
  );
}

/** The kernel's metric for a route added without one: 0 for IPv4, 1024 for IPv6. */
export function defaultMetric(r: RouteInputs): number {
  return isIpv6(r) ? 1024 : 0;
}

/** True for an IPv6 route (by its destination, or its gateway for `default`). */
export function isIpv6(r: RouteInputs): boolean {
  return (
    r.destination.includes(":") || (r.destination === "default" && (r.via ?? "").includes(":"))
  );
}

/** Picks our route out of `ip -json route show to exact DEST`: the one with our metric. */
export function findRoute(routes: readonly RouteState[], r: RouteInputs): RouteState | undefined {
  const want = r.metric ?? defaultMetric(r);
  return routes.find((x) => (x.metric ?? 0) === want);
}

/** Our route as the host has it now, asked of the host itself (not a snapshot). */
async function readRoute(host: Host, r: RouteInputs): Promise<RouteState | undefined> {
  const routes = await liveReader(host).routes(
    r.namespace,
    r.destination,
    r.table ?? "main",
    isIpv6(r),
  );
  return routes && findRoute(routes, r);
}

/** The largest routing table number: table ids are 32-bit. */
const MAX_TABLE = 4294967295;

/** The largest metric: metrics are 32-bit. */
const MAX_METRIC = 4294967295;

/**
 * Why `table` cannot name a routing table, or undefined. A number is written
 * in decimal without leading zeros, because ip(8) reads `010` as octal (table
 * 8) where the snapshot reader would read table 10; and 0 is not a table
 * (the kernel puts a route for table 0 in main, and `ip route show table 0`
 * lists every table).
 */
export function tableProblem(table: unknown): string | undefined {
  const rule = `must be "main", "local", "default" or a table number from 1 to ${MAX_TABLE} without leading zeros`;
  if (typeof table !== "string") return `${rule}, got ${shown(table)}`;
  if (/^(main|local|default)$/.test(table)) return undefined;
  if (/^[1-9][0-9]{0,9}$/.test(table) && Number(table) <= MAX_TABLE) return undefined;
  return `${rule}, got ${JSON.stringify(table)}`;
}

/** A destination: `default`, or a network (`0.0.0.0/0` is `default`); required. */
const destination: FieldType = {
  check(value, ctx) {
    if (value === undefined) {
      ctx.checker.fail(ctx.path, `is required: "default" or a network like "10.1.0.0/16"`);
    } else if (!isUnknown(value) && value !== "default") {
      const net = parseNetwork(value);
      if (typeof net === "string") ctx.checker.fail(ctx.path, net);
      else return net.cidr === "0.0.0.0/0" ? "default" : net.cidr;
    }
    return undefined;
  },
};

/** A gateway, normalised, of the destination's family (as written: `0.0.0.0/0` is IPv4). */
const gateway: FieldType = {
  check(value, ctx) {
    if (value === undefined || isUnknown(value)) return undefined;
    const gw = parseAddress(value);
    if (typeof gw === "string") {
      ctx.checker.fail(ctx.path, gw);
      return undefined;
    }
    const dest = ctx.root.destination;
    const net =
      dest === undefined || isUnknown(dest) || dest === "default" ? undefined : parseNetwork(dest);
    const family = typeof net === "object" ? net.family : undefined;
    if (family && gw.family !== family) {
      ctx.checker.fail(
        ctx.path,
        `is an ${gw.family === "inet" ? "IPv4" : "IPv6"} address but destination is ${family === "inet" ? "IPv4" : "IPv6"}`,
      );
    }
    return gw.address;
  },
};

/** The Route kind: its inputs as declared, and its lifecycle. */
export const routeKind = declareKind<RouteInputs, RouteOutputs>({
  name: "Route",
  fields: {
    connection: connection("replace-on-host"),
    // The kernel knows a route by (table, destination, metric): those, and where it lives, replace.
    namespace: { type: checked(namespaceNameProblem), change: "replace" },
    destination: { type: destination, change: "replace" },
    via: { type: gateway, change: "update" },
    device: {
      type: checked(interfaceNameProblem),
      change: "update",
      rule(_out, c, root) {
        if (root.via === undefined && root.device === undefined) {
          c.fail(
            "via",
            "or device is required: a route needs a gateway, an outgoing interface, or both",
          );
        }
      },
    },
    metric: { type: integer(0, MAX_METRIC), change: "replace" },
    table: { type: checked(tableProblem), change: "replace", absentIs: "main" },
    adopt: adoptField(),
  },
  // The kernel holds one route per (table, destination, metric): the old one must go first.
  snapshotRead: true,
  deleteBeforeReplace: true,

  idOf: (r) =>
    `${r.namespace ?? ""}/${r.table ?? "main"}/${r.destination}/${r.metric ?? defaultMetric(r)}`,

  async create(host, inputs) {
    return transactional(async (undo) => {
      // One round trip: the route, with our protocol, and the record that names its resource.
      const steps = [
        planRouteAdd(inputs),
        planRecordWrite(
          routeRecordOf(inputs),
          markFor(inputs, "Route"),
          ...routeRecordLines(inputs),
        ),
      ];
      const results = await host.runSteps(steps);
      if (results[0]?.exitCode === 0) {
        undo(async () => {
          await host.run(planRouteDelete(inputs, { gateway: inputs.via, dev: inputs.device }));
          await host.run(planRecordRemove(routeRecordOf(inputs)));
        });
      }
      await throwIfStepFailed(host, steps, results, async (index, stderr) => {
        if (index !== 0 || !/File exists/.test(stderr)) return undefined;
        const found = await readRoute(host, inputs);
        // Ours only when it has our protocol and the record names a resource.
        const record =
          found?.protocol === String(ROUTE_PROTOCOL)
            ? await host.run(planRecordRead(routeRecordOf(inputs)))
            : undefined;
        const r = results[0]!;
        throw new ExistsError(
          host.name,
          steps[0]!,
          r.exitCode,
          r.stdout,
          r.stderr,
          `a route to ${inputs.destination} with this metric`,
          record && parseRecord(record.stdout, record.exitCode),
        );
      });
      if (!(await readRoute(host, inputs))) {
        throw new Error(
          `on ${host.name}: the route to ${inputs.destination} was added but does not read back`,
        );
      }
      return inputs;
    });
  },

  async mark(host, inputs, mark) {
    // The protocol comes with the update's `ip route replace`.
    await host.runOk(planRecordWrite(routeRecordOf(inputs), mark, ...routeRecordLines(inputs)));
  },

  async read(reader, _id, props) {
    const routes = await reader.routes(
      props.namespace,
      props.destination,
      props.table ?? "main",
      isIpv6(props),
    );
    const seen = routes && findRoute(routes, props);
    if (!seen) return undefined;
    return {
      ...props,
      via: props.via === undefined && !seen.gateway ? undefined : seen.gateway,
      device: props.device === undefined ? undefined : seen.dev,
    };
  },

  async update(host, _id, _olds, news) {
    await host.runOk(planRouteReplace(news));
    return news;
  },

  async delete(host, _id, props) {
    // Gone already (or with its namespace or device) is success, and then nothing may be deleted:
    // another route to the same destination is not ours.
    const found = await readRoute(host, props);
    if (found) {
      const argv = planRouteDelete(props, found);
      const r = await host.run(argv);
      if (r.exitCode !== 0 && !/No such process|Cannot find device/.test(r.stderr)) {
        throw new CommandError(host.name, argv, r.exitCode, r.stdout, r.stderr);
      }
    }
    await host.runOk(planRecordRemove(routeRecordOf(props)));
  },
});

/**
 * Arguments of a {@link Route}. A route is known to the kernel by its table,
 * destination and metric: changing any of those (or `namespace`) replaces
 * the route, deleting the old one first; the next hop (`via`, `device`)
 * updates in place with `ip route replace`. Give `via`, `device`, or both.
 */
export interface RouteArgs {
  /**
   * The host to build on, `{ host: "10.1.0.2", privateKey: key }`; the stack's `linuxnet:*` config
   * when omitted. A changed `host` replaces the route; any other change updates in place (see
   * {@link ConnectionArgs}).
   */
  connection?: pulumi.Input<ConnectionArgs>;
  /**
   * The namespace whose routing table holds the route: `blue.name`. The
   * host's own when omitted. Changing it replaces the route.
   */
  namespace?: pulumi.Input<string>;
  /**
   * `"default"`, or a network in CIDR form with its host bits zero, IPv4 or
   * IPv6: `"10.1.0.0/16"`. Required; `"0.0.0.0/0"` is stored as `"default"`.
   * Changing it replaces the route.
   */
  destination: pulumi.Input<string>;
  /**
   * The gateway, an address of the destination's family: `"10.0.0.254"`.
   * None when omitted (then `device` is required). Updates in place.
   */
  via?: pulumi.Input<string>;
  /**
   * The outgoing interface: `"veth-blue"`. None when omitted (then `via` is
   * required, and the kernel picks the interface that reaches it). Updates in place.
   */
  device?: pulumi.Input<string>;
  /**
   * The route's priority, 0 to 4294967295 (lower wins): `100`. The kernel's
   * default when omitted: 0 for IPv4, 1024 for IPv6. Changing it replaces
   * the route, including from omitted to the default written out.
   */
  metric?: pulumi.Input<number>;
  /**
   * The routing table: `"main"`, `"local"`, `"default"` or a number such as
   * `"100"` (for policy routing). `"main"` when omitted (omitted and `"main"`
   * are the same). Changing it replaces the route.
   */
  table?: pulumi.Input<string>;
  /**
   * Take over a route of this destination, table and metric that exists
   * already and is not ours (one a DHCP client or an admin added): its next
   * hop is converged and it gets our protocol number (76) and a record under
   * `/run/linuxnet/route` naming this resource. Deleting the resource then
   * deletes the route; give the `retainOnDelete` resource option to keep it.
   * A route marked by another resource is refused either way. False when
   * omitted; turning it on or off later changes nothing.
   */
  adopt?: pulumi.Input<boolean>;
}

/**
 * A route. Equivalent to: `ip [-n NS] route add DEST [via GW] [dev DEV] [metric M]`
 */
export class Route extends LinuxnetResource {
  /** The namespace whose table holds the route; undefined for the host's own. */
  declare readonly namespace: pulumi.Output<string | undefined>;
  /** The destination, normalised: `"default"` or a network such as `"10.1.0.0/16"`. */
  declare readonly destination: pulumi.Output<string>;
  /** The gateway as last read from the host; undefined when the route has none. */
  declare readonly via: pulumi.Output<string | undefined>;
  /** The outgoing interface as last read, when `device` was given; undefined otherwise. */
  declare readonly device: pulumi.Output<string | undefined>;
  /**
   * @param name - The resource's name in the stack.
   * @param args - The route: `destination`, and `via`, `device` or both.
   * @param opts - Pulumi resource options (`dependsOn`, `deletedWith`, ...).
   */
  constructor(name: string, args: RouteArgs, opts?: pulumi.CustomResourceOptions) {
    super(routeKind, name, args, opts);
  }
}
