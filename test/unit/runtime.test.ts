import { describe, expect, it, vi } from "vitest";
import { TransportError } from "../../provider/errors";
import {
  type KindName,
  handler,
  kinds,
  unlessUnreachable,
  withReadableFailure,
} from "../../provider/runtime";
import { transportStats } from "../../provider/transport";
import { CONNECTION, PROVIDER_KEY, UNKNOWN, labelled } from "./support";

// Only check and diff are called here: both are pure, so nothing in this file reaches a host.

const valid: Record<KindName, Record<string, unknown>> = {
  Namespace: { name: "ns-blue" },
  Bridge: { name: "br0", addresses: ["10.0.0.254/24"] },
  VethPair: { a: { name: "va", namespace: "ns-blue" }, b: { name: "vb", bridge: "br0" } },
  Route: { namespace: "ns-blue", destination: "default", via: "10.0.0.254" },
  NatRule: { source: "10.0.0.0/24", outInterface: "eth0" },
  ConnectivityCheck: { from: { namespace: "ns-blue" }, to: { namespace: "ns-green" } },
  Sysctl: { namespace: "ns-blue", key: "net.ipv4.conf.all.rp_filter", value: "2" },
  PortForward: { protocol: "tcp", hostPort: 8080, to: "10.0.0.2:80" },
  Vxlan: { name: "vx0", vni: 42, remotes: ["10.213.0.3"], bridge: "br0" },
  LinkShaping: { namespace: "ns-blue", device: "veth-blue", rate: "10mbit" },
};
const names = Object.keys(kinds) as KindName[];

describe("handler", () => {
  it("serves every kind of the public API", () => {
    expect(names).toEqual([
      "Namespace",
      "Bridge",
      "VethPair",
      "Route",
      "NatRule",
      "ConnectivityCheck",
      "Sysctl",
      "PortForward",
      "Vxlan",
      "LinkShaping",
    ]);
  });

  it("refuses a kind it does not have, saying the package may be older than the stack", () => {
    expect(() => handler("Tunnel" as KindName)).toThrow(/no resource kind "Tunnel"/);
  });

  it.each(labelled(names.map((kind) => ({ label: kind, kind }))))(
    "checks good %s inputs with no failures, keeping the engine's provider key",
    async (_label, { kind }) => {
      const news = {
        connection: { ...CONNECTION },
        resourceName: "r",
        ...valid[kind],
        [PROVIDER_KEY]: "p",
      };
      const result = await handler(kind).check!({}, news);
      expect(result.failures).toEqual([]);
      expect(result.inputs?.[PROVIDER_KEY]).toBe("p");
    },
  );

  it.each(labelled(names.map((kind) => ({ label: kind, kind }))))(
    "lets a %s through whose host is not known yet",
    async (_label, { kind }) => {
      const news = {
        connection: { ...CONNECTION, host: UNKNOWN },
        resourceName: "r",
        ...valid[kind],
      };
      expect((await handler(kind).check!({}, news)).failures).toEqual([]);
    },
  );

  it.each(labelled(names.map((kind) => ({ label: kind, kind }))))(
    "sees no change in a %s when only the serialized provider differs",
    async (_label, { kind }) => {
      const checked = (
        await handler(kind).check!(
          {},
          { connection: { ...CONNECTION }, resourceName: "r", ...valid[kind] },
        )
      ).inputs!;
      const diff = await handler(kind).diff!(
        "id",
        { ...checked, [PROVIDER_KEY]: "old build" },
        { ...checked, [PROVIDER_KEY]: "new build" },
      );
      expect(diff.changes).toBe(false);
    },
  );

  it.each(labelled(names.map((kind) => ({ label: kind, kind }))))(
    "asks for an update of a %s whose create a broken connection cut off",
    async (_label, { kind }) => {
      const checked = (
        await handler(kind).check!(
          {},
          { connection: { ...CONNECTION }, resourceName: "r", ...valid[kind] },
        )
      ).inputs;
      const diff = await handler(kind).diff!("id", { ...checked, incomplete: true }, checked);
      expect(diff.changes).toBe(true);
      expect(diff.replaces ?? []).toEqual([]);
    },
  );

  it("opened no SSH connection, channel or command", () => {
    expect(transportStats).toEqual({ connections: 0, channels: 0, commands: 0 });
  });
});

describe("unlessUnreachable", () => {
  const timeout = (host: string) =>
    new TransportError("timeout", host, "not reachable within 3000 ms: no SSH greeting in time");
  const props = (connection: Record<string, unknown>) =>
    ({ connection, resourceName: "blue" }) as unknown as Parameters<typeof unlessUnreachable>[0];
  const failing = (e: Error) => () => Promise.reject(e);

  it("passes the answer through when the host answers", async () => {
    expect(
      await unlessUnreachable(props({ host: "10.1.0.2" }), "refresh", "gone", async () => "ok"),
    ).toBe("ok");
  });

  it("fails an unreachable host by default, naming the ways out", async () => {
    const error = await unlessUnreachable(
      props({ host: "10.1.0.2" }),
      "destroy",
      undefined,
      failing(timeout("10.1.0.2")),
    ).then(
      () => new Error("no error"),
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(TransportError);
    expect(error.message).toMatch(/^ssh to 10\.1\.0\.2: not reachable within 3000 ms/);
    expect(error.message).toContain("pulumi config set linuxnet:deleteUnreachable true");
    expect(error.message).toContain("deletedWith: vm");
    expect(error.message).toContain("pulumi state delete");
  });

  it("counts the objects gone, with a warning, when the connection says so", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      expect(
        await unlessUnreachable(
          props({ host: "10.1.0.2", deleteUnreachable: true }),
          "refresh",
          "gone",
          failing(timeout("10.1.0.2")),
        ),
      ).toBe("gone");
      expect(String(warn.mock.calls[0]?.[0])).toMatch(
        /so refresh counts blue as gone from 10\.1\.0\.2/,
      );
    } finally {
      warn.mockRestore();
    }
  });

  it("never forgets objects because a jump host is unreachable", async () => {
    const e = timeout("bastion.example.net");
    await expect(
      unlessUnreachable(
        props({
          host: "10.1.0.2",
          deleteUnreachable: true,
          proxy: { host: "bastion.example.net" },
        }),
        "refresh",
        "gone",
        failing(e),
      ),
    ).rejects.toBe(e);
  });

  it("passes on every failure that is not a host out of reach", async () => {
    const e = new TransportError("authentication", "10.1.0.2:22", "authentication as root failed");
    await expect(
      unlessUnreachable(
        props({ host: "10.1.0.2", deleteUnreachable: true }),
        "destroy",
        undefined,
        failing(e),
      ),
    ).rejects.toBe(e);
  });
});

describe("withReadableFailure", () => {
  // The SDK prints a failed read as `${e}: ${e.stack}`: our message must appear once.
  const said = async (e: Error) => {
    const caught = await withReadableFailure(
      { resourceName: "veth-b" } as never,
      "refreshing",
      Promise.reject(e),
    ).catch((x: Error) => x);
    return `${caught}: ${caught.stack}`;
  };

  it("names the resource instead of repeating the message of an error written for users", async () => {
    const text = await said(
      new TransportError("timeout", "10.0.0.9", "ssh to 10.0.0.9: not reachable"),
    );
    expect(text.split("not reachable").length - 1).toBe(1);
    expect(text).toContain("while refreshing veth-b");
    expect(text).not.toMatch(/\n\s+at /);
  });

  it("keeps the stack of anything else: that is a defect to chase", async () => {
    const text = await said(new TypeError("x is undefined"));
    expect(text).toMatch(/\n\s+at /);
  });

  it("passes a successful read through", async () => {
    await expect(withReadableFailure({} as never, "deleting", Promise.resolve(7))).resolves.toBe(7);
  });
});
