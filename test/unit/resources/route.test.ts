import { describe, expect, it } from "vitest";
import {
  type RouteInputs,
  findRoute,
  planRouteAdd,
  planRouteDelete,
  planRouteReplace,
  routeKind,
} from "../../../provider/resources/route";
import { CONNECTION, PROVIDER_KEY, UNKNOWN, labelled, inputsFor } from "../support";

const inputs = inputsFor<RouteInputs>("blue-default", {
  namespace: "ns-blue",
  destination: "default",
  via: "10.0.0.254",
});

describe("routeKind.check", () => {
  it.each(
    labelled([
      {
        label: "the whole IPv4 space as default",
        over: { destination: "0.0.0.0/0" },
        want: { destination: "default" },
      },
      {
        label: "default as it is",
        over: { destination: "default" },
        want: { destination: "default" },
      },
      {
        label: "an IPv4 network as it is",
        over: { destination: "10.1.0.0/16" },
        want: { destination: "10.1.0.0/16" },
      },
      {
        label: "an IPv6 network to its short form",
        over: { destination: "FD01:0:0:0::/64", via: "FD00::1" },
        want: { destination: "fd01::/64", via: "fd00::1" },
      },
      {
        label: "a gateway written long",
        over: { destination: "fd01::/64", via: "fd00:0:0:0:0:0:0:1" },
        want: { via: "fd00::1" },
      },
      {
        label: "a device without a gateway",
        over: { via: undefined, device: "eth0" },
        want: { via: undefined, device: "eth0" },
      },
    ]),
  )("normalises %s", (_label, { over, want }) => {
    const { inputs: out, failures } = routeKind.check(undefined, inputs(over));
    expect(failures).toEqual([]);
    expect(out).toMatchObject(want);
  });

  it.each(
    labelled([
      { label: "table main", over: { table: "main" } },
      { label: "a numbered table", over: { table: "100" } },
      { label: "metric 0", over: { metric: 0 } },
      { label: "the largest metric", over: { metric: 4294967295 } },
      { label: "a gateway and a device", over: { device: "veth-blue" } },
    ]),
  )("accepts %s", (_label, { over }) => {
    expect(routeKind.check(undefined, inputs(over)).failures).toEqual([]);
  });

  it.each(
    labelled([
      { label: "no destination", over: { destination: undefined }, property: "destination" },
      { label: "neither gateway nor device", over: { via: undefined }, property: "via" },
      {
        label: "an IPv6 gateway for an IPv4 network",
        over: { destination: "10.1.0.0/16", via: "fd00::1" },
        property: "via",
      },
      {
        label: "an IPv4 gateway for an IPv6 network",
        over: { destination: "fd01::/64", via: "10.0.0.254" },
        property: "via",
      },
      {
        label: "an IPv6 gateway for 0.0.0.0/0",
        over: { destination: "0.0.0.0/0", via: "fd00::1" },
        property: "via",
      },
      {
        label: "a destination with host bits",
        over: { destination: "10.1.2.3/16" },
        property: "destination",
      },
      { label: "a table name that is not a table", over: { table: "wan" }, property: "table" },
    ]),
  )("refuses %s", (_label, { over, property }) => {
    const { failures } = routeKind.check(undefined, inputs(over));
    expect(failures.map((f) => f.property)).toEqual([property]);
  });

  it("leaves the gateway out of its inputs when none is given, as the engine's Struct needs (issue 9)", () => {
    const { via: _via, ...withoutVia } = inputs({ destination: "10.1.0.0/24", device: "eth0" });
    const { inputs: out, failures } = routeKind.check(undefined, withoutVia as RouteInputs);
    expect(failures).toEqual([]);
    expect(Object.keys(out)).not.toContain("via");
  });

  it("leaves a missing destination out of its inputs, so the engine can show the failure", () => {
    const { destination: _d, ...withoutDestination } = inputs();
    const { inputs: out, failures } = routeKind.check(undefined, withoutDestination as RouteInputs);
    expect(failures.map((f) => f.property)).toEqual(["destination"]);
    expect(Object.keys(out)).not.toContain("destination");
  });

  it("suggests the network when the destination has host bits set", () => {
    expect(
      routeKind.check(undefined, inputs({ destination: "10.1.2.3/16" })).failures[0]!.reason,
    ).toContain('"10.1.0.0/16"');
  });

  it.each(
    labelled([
      { label: "the destination", over: { destination: UNKNOWN } },
      { label: "the gateway", over: { via: UNKNOWN } },
      { label: "the gateway, with no device", over: { via: UNKNOWN, device: undefined } },
      { label: "the device, with no gateway", over: { via: undefined, device: UNKNOWN } },
      { label: "the namespace", over: { namespace: UNKNOWN } },
      { label: "the metric", over: { metric: UNKNOWN } },
      { label: "the table", over: { table: UNKNOWN } },
      { label: "the connection's host", over: { connection: { ...CONNECTION, host: UNKNOWN } } },
    ]),
  )("lets an unknown value through in %s", (_label, { over }) => {
    expect(routeKind.check(undefined, inputs(over)).failures).toEqual([]);
  });
});

describe("routeKind.diff", () => {
  const olds = inputs();
  const none = { changes: false, replaces: [], deleteBeforeReplace: false };
  const update = { changes: true, replaces: [], deleteBeforeReplace: false };
  const replace = (field: string) => ({
    changes: true,
    replaces: [field],
    deleteBeforeReplace: true,
  });

  it.each(
    labelled([
      { label: "nothing for the same inputs", over: {}, diff: none },
      {
        label: "nothing when only the serialized provider differs",
        over: { [PROVIDER_KEY]: "v2" },
        diff: none,
      },
      { label: "nothing for table main written out", over: { table: "main" }, diff: none },
      { label: "an update for a new gateway", over: { via: "10.0.0.253" }, diff: update },
      { label: "an update for a device", over: { device: "eth1" }, diff: update },
      {
        label: "an update for a rotated key",
        over: { connection: { ...CONNECTION, privateKey: "k2" } },
        diff: update,
      },
      {
        label: "a replacement, delete first, for a new destination",
        over: { destination: "10.9.0.0/16" },
        diff: replace("destination"),
      },
      {
        label: "a replacement, delete first, for a new namespace",
        over: { namespace: "ns-red" },
        diff: replace("namespace"),
      },
      {
        label: "a replacement, delete first, for a new metric",
        over: { metric: 100 },
        diff: replace("metric"),
      },
      {
        label: "a replacement, delete first, for a new table",
        over: { table: "100" },
        diff: replace("table"),
      },
      {
        label: "a replacement, delete first, for another host",
        over: { connection: { ...CONNECTION, host: "10.1.0.9" } },
        diff: replace("connection"),
      },
    ]),
  )("gives %s", (_label, { over, diff }) => {
    expect(routeKind.diff(olds, { ...olds, ...over } as RouteInputs)).toEqual(diff);
  });
});

describe("route argv builders", () => {
  const full = inputs({
    destination: "10.1.0.0/16",
    table: "100",
    metric: 50,
    via: "10.0.0.254",
    device: "veth-blue",
  });
  const host = inputs({
    namespace: undefined,
    destination: "10.1.0.0/16",
    table: "main",
    via: "10.0.0.254",
  });

  it.each(
    labelled([
      {
        label: "planRouteAdd with everything",
        argv: planRouteAdd(full),
        want: [
          "ip",
          "-n",
          "ns-blue",
          "route",
          "add",
          "10.1.0.0/16",
          "table",
          "100",
          "metric",
          "50",
          "via",
          "10.0.0.254",
          "dev",
          "veth-blue",
          "proto",
          "76",
        ],
      },
      {
        label: "planRouteAdd on the host in table main",
        argv: planRouteAdd(host),
        want: ["ip", "route", "add", "10.1.0.0/16", "via", "10.0.0.254", "proto", "76"],
      },
      {
        label: "planRouteAdd for a default route",
        argv: planRouteAdd(inputs()),
        want: [
          "ip",
          "-n",
          "ns-blue",
          "route",
          "add",
          "default",
          "via",
          "10.0.0.254",
          "proto",
          "76",
        ],
      },
      {
        label: "planRouteAdd for a device route",
        argv: planRouteAdd(inputs({ via: undefined, device: "eth0" })),
        want: ["ip", "-n", "ns-blue", "route", "add", "default", "dev", "eth0", "proto", "76"],
      },
      {
        label: "planRouteReplace with everything",
        argv: planRouteReplace(full),
        want: [
          "ip",
          "-n",
          "ns-blue",
          "route",
          "replace",
          "10.1.0.0/16",
          "table",
          "100",
          "metric",
          "50",
          "via",
          "10.0.0.254",
          "dev",
          "veth-blue",
          "proto",
          "76",
        ],
      },
      {
        label: "planRouteReplace on the host",
        argv: planRouteReplace(host),
        want: ["ip", "route", "replace", "10.1.0.0/16", "via", "10.0.0.254", "proto", "76"],
      },
      {
        label: "planRouteDelete of the route found, its next hop as the kernel reports it",
        argv: planRouteDelete(full, { gateway: "10.0.0.253", dev: "veth-blue" }),
        want: [
          "ip",
          "-n",
          "ns-blue",
          "route",
          "del",
          "10.1.0.0/16",
          "table",
          "100",
          "metric",
          "50",
          "via",
          "10.0.0.253",
          "dev",
          "veth-blue",
        ],
      },
      {
        label: "planRouteDelete of a default route, its metric 0 written out",
        argv: planRouteDelete(inputs(), {}),
        want: ["ip", "-n", "ns-blue", "route", "del", "default", "metric", "0"],
      },
    ]),
  )("%s gives the exact argv", (_label, { argv, want }) => {
    expect(argv).toEqual(want);
  });
});

describe("findRoute", () => {
  // `ip -json route show to exact DEST` prints no metric for IPv4 metric 0, and 1024 for an IPv6 route added without one.
  const v4 = [
    { dst: "10.1.0.0/16", gateway: "10.0.0.254", dev: "veth-blue", flags: [] },
    { dst: "10.1.0.0/16", gateway: "10.0.0.253", dev: "veth-blue", metric: 100, flags: [] },
  ];
  const v6 = [
    {
      dst: "fd01::/64",
      gateway: "fd00::1",
      dev: "veth-blue",
      metric: 1024,
      flags: [],
      pref: "medium",
    },
  ];

  it.each(
    labelled([
      {
        label: "the IPv4 route with no metric",
        routes: v4,
        r: { destination: "10.1.0.0/16" },
        gateway: "10.0.0.254",
      },
      {
        label: "the IPv4 route with metric 100",
        routes: v4,
        r: { destination: "10.1.0.0/16", metric: 100 },
        gateway: "10.0.0.253",
      },
      {
        label: "the IPv6 route added without a metric",
        routes: v6,
        r: { destination: "fd01::/64" },
        gateway: "fd00::1",
      },
      {
        label: "the IPv6 route with metric 1024 given",
        routes: v6,
        r: { destination: "fd01::/64", metric: 1024 },
        gateway: "fd00::1",
      },
    ]),
  )("picks %s", (_label, { routes, r, gateway }) => {
    expect(findRoute(routes, r as RouteInputs)?.gateway).toBe(gateway);
  });

  it.each(
    labelled([
      {
        label: "no route with that metric",
        routes: v4,
        r: { destination: "10.1.0.0/16", metric: 7 },
      },
      { label: "no routes at all", routes: [], r: { destination: "10.1.0.0/16" } },
    ]),
  )("finds nothing when there is %s", (_label, { routes, r }) => {
    expect(findRoute(routes, r as RouteInputs)).toBeUndefined();
  });
});
