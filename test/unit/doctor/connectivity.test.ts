import { describe, expect, it } from "vitest";
import {
  type ConnectivityInputs,
  type ConnectivityOutputs,
  connectivityKind,
  destinationInput,
  requestOf,
  summaryOf,
} from "../../../provider/resources/connectivity";
import type { DoctorReport } from "../../../provider/doctor";
import { UNKNOWN } from "../../../provider/resources/validate";
import * as pulumi from "@pulumi/pulumi";

const CONNECTION = { host: "10.1.0.2", privateKey: "k" };

function inputs(patch: Record<string, unknown> = {}): ConnectivityInputs {
  return {
    connection: CONNECTION,
    resourceName: "blue-to-green",
    from: { namespace: "ns-blue" },
    to: { namespace: "ns-green" },
    ...patch,
  } as ConnectivityInputs;
}

describe("ConnectivityCheck check", () => {
  it.each([
    ["namespaces only", {}],
    ["an address only, from the host", { from: undefined, to: { address: "192.0.2.7" } }],
    ["a TCP port", { to: { address: "10.0.0.2" }, port: 80 }],
    ["a destination not known yet", { to: UNKNOWN }],
    ["a namespace not known yet", { to: { namespace: UNKNOWN } }],
    ["a host not known yet", { connection: { ...CONNECTION, host: UNKNOWN } }],
    [
      "a destination on another host",
      { to: { address: "10.72.0.1", connection: { host: "10.1.0.3", privateKey: "k" } } },
    ],
    [
      "a destination host not known yet",
      { to: { address: "10.72.0.1", connection: { host: UNKNOWN } } },
    ],
    [
      "a destination connection not known yet",
      { to: { address: "10.72.0.1", connection: UNKNOWN } },
    ],
    ["a destination connection of null", { to: { address: "10.72.0.1", connection: null } }],
  ] as const)("accepts %s", (_label, patch) => {
    expect(connectivityKind.check(undefined, inputs(patch)).failures).toEqual([]);
  });

  it.each([
    ["no destination", { to: undefined }, "to"],
    ["an empty destination", { to: {} }, "to"],
    ["a namespace with a command substitution", { to: { namespace: "$(reboot)" } }, "to.namespace"],
    ["a source namespace with a semicolon", { from: { namespace: "ns;reboot" } }, "from.namespace"],
    ["an IPv6 address", { to: { address: "fd00::1" } }, "to.address"],
    ["an address with a prefix", { from: { address: "10.0.0.1/24" } }, "from.address"],
    ["port 0", { port: 0 }, "port"],
    ["a port as a string", { port: "22; reboot" }, "port"],
    ["an unknown protocol", { protocol: "udp" }, "protocol"],
    ["TCP without a port", { protocol: "tcp" }, "port"],
    [
      "a bad connection host",
      { connection: { ...CONNECTION, host: "`reboot`" } },
      "connection.host",
    ],
    [
      "a bad destination host",
      { to: { address: "10.72.0.1", connection: { host: "`reboot`" } } },
      "to.connection.host",
    ],
    [
      "a destination connection with a sudo password but sudo false",
      { to: { address: "10.72.0.1", connection: { host: "h", sudo: false, sudoPassword: "p" } } },
      "to.connection.sudoPassword",
    ],
    [
      "a destination host with a namespace but no address",
      { to: { namespace: "ns-far", connection: { host: "10.1.0.3" } } },
      "to.address",
    ],
  ] as const)("refuses %s, naming the field", (_label, patch, property) => {
    const { failures } = connectivityKind.check(undefined, inputs(patch));
    expect(failures.map((f) => f.property)).toContain(property);
  });
});

describe("ConnectivityCheck diff", () => {
  const outs = (patch: Partial<ConnectivityOutputs> = {}): ConnectivityOutputs => ({
    ...inputs(),
    healthy: true,
    summary: "ok",
    ...patch,
  });
  it.each([
    ["nothing changed on a healthy path", outs(), inputs(), false],
    ["a path found broken at refresh", outs({ healthy: false }), inputs(), true],
    ["another destination", outs(), inputs({ to: { namespace: "ns-red" } }), true],
    ["a port added", outs(), inputs({ port: 22 }), true],
    [
      "a destination host added",
      outs({ to: { address: "10.72.0.1" } }),
      inputs({ to: { address: "10.72.0.1", connection: { host: "10.1.0.3" } } }),
      true,
    ],
    [
      "the destination host changed",
      outs({ to: { address: "10.72.0.1", connection: { host: "10.1.0.3" } } }),
      inputs({ to: { address: "10.72.0.1", connection: { host: "10.1.0.4" } } }),
      true,
    ],
  ] as const)("%s: changes is %s, never a replacement", (_label, olds, news, changes) => {
    expect(connectivityKind.diff(olds, news)).toEqual({
      changes,
      replaces: [],
      deleteBeforeReplace: false,
    });
  });
});

describe("requestOf and summaryOf", () => {
  it.each([
    ["a ping by default", inputs(), "icmp"],
    ["TCP when a port is given", inputs({ port: 22 }), "tcp"],
    ["ICMP when asked, even with a port", inputs({ port: 22, protocol: "icmp" }), "icmp"],
  ] as const)("asks the doctor for %s", (_label, i, protocol) => {
    expect(requestOf(i).protocol).toBe(protocol);
  });

  it("summarises a broken report with its first failure and fix", () => {
    const failure = {
      id: "bridge.up",
      title: "bridge br0 (host) is UP",
      status: "fail" as const,
      evidence: "",
      fix: "ip link set dev br0 up",
    };
    const report: DoctorReport = {
      host: "h",
      request: requestOf(inputs()),
      source: { namespace: "ns-blue", address: "10.0.0.1" },
      destination: { namespace: "ns-green", address: "10.0.0.2", onHost: true },
      path: [],
      checks: [failure],
      healthy: false,
      firstFailure: failure,
      durationMs: 1,
    };
    expect(summaryOf(report)).toBe(
      "ns-blue 10.0.0.1 → 10.0.0.2 (ns-green): broken at bridge.up: bridge br0 (host) is UP does not hold; fix: ip link set dev br0 up",
    );
  });
});

describe("the destination's connection on the program side", () => {
  const secretOf = (o: unknown) =>
    (o as { isSecret: Promise<boolean> }).isSecret as Promise<boolean>;
  const valueOf = (o: unknown) =>
    new Promise((resolve) => (o as pulumi.Output<unknown>).apply(resolve));

  it("leaves a destination without one as given", () => {
    const to = { namespace: "ns-green" };
    expect(destinationInput(to)).toBe(to);
  });

  it("sends a destination with one as a secret, as the connection is", async () => {
    const to = destinationInput({
      address: "10.72.0.1",
      connection: { host: "10.1.0.3", privateKey: "k" },
    });
    expect(pulumi.Output.isInstance(to)).toBe(true);
    expect(await secretOf(to)).toBe(true);
    expect(await valueOf(to)).toEqual({
      address: "10.72.0.1",
      connection: { host: "10.1.0.3", privateKey: "k" },
    });
  });

  it("does so too when the destination is an output", async () => {
    const to = destinationInput(
      pulumi.output({ address: "10.72.0.1", connection: { host: "10.1.0.3" } }),
    );
    expect(await secretOf(to)).toBe(true);
    const plain = destinationInput(pulumi.output({ address: "10.72.0.1" }));
    expect(await secretOf(plain)).toBe(false);
  });
});
