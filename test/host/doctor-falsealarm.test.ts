/**
 * The doctor on healthy hosts it used to call broken. Lab host h1 (lab id
 * "xf1") gets a routed path built by hand: client ns-fc 10.41.0.1 behind
 * router ns-fr (10.41.0.254, 10.42.0.254), server ns-fs 10.42.0.1. A real
 * ping is the ground truth each time.
 *
 * - The nftables wiki's `ct state vmap { established : accept, related :
 *   accept, invalid : drop }` in a policy-drop forward chain at the router:
 *   no check fails or warns, the reply is accepted by the vmap, and a
 *   ConnectivityCheck (check, create) is healthy.
 * - A rule the evaluator cannot read (`meta mark`) that accepts everything
 *   before the policy drop: a warning naming the rule, never a failure.
 * - A link without carrier whose /8 holds the destination while the kernel
 *   uses a /16 route via a gateway: no `link.down`.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, type LabHost, startLab } from "../../lab/labhost";
import { type Host, closeAllSessions, hostFor, transportStats } from "../../provider/transport";
import { resolveConnection } from "../../provider/transport/connection";
import { type DoctorReport, diagnose, formatReport } from "../../provider/doctor";
import { requireRoot } from "../support/lab";
import { Driver, type LabContext } from "./support";

let lab: Lab;
let h1: LabHost;
let host: Host;
let driver: Driver;

const C = "ns-fc";
const R = "ns-fr";
const S = "ns-fs";

async function sh(...commands: string[][]): Promise<void> {
  for (const argv of commands) {
    const r = await h1.exec(argv);
    if (r.exitCode !== 0) {
      throw new Error(`${argv.join(" ")}: exit ${r.exitCode}: ${r.stderr.trim()}`);
    }
  }
}

const ip = (ns: string, ...argv: string[]) => ["ip", "-n", ns, ...argv];
const nft = (ns: string, ...argv: string[]) => ["ip", "netns", "exec", ns, "nft", ...argv];

const REQUEST = () => ({
  from: { namespace: C, address: "10.41.0.1" },
  to: { namespace: S, address: "10.42.0.1" },
});

const explain = (report: DoctorReport) => `\n${formatReport(report)}`;

async function ping(): Promise<boolean> {
  const r = await h1.exec(["ip", "netns", "exec", C, "ping", "-c", "1", "-w", "3", "10.42.0.1"]);
  return r.exitCode === 0;
}

/** The router's forward chain: policy drop, then `rules` (each an nft rule's words). */
async function forwardChain(...rules: string[][]): Promise<void> {
  await sh(
    nft(R, "flush", "ruleset"),
    nft(R, "add", "table", "inet", "router"),
    nft(
      R,
      "add",
      "chain",
      "inet",
      "router",
      "forward",
      "{ type filter hook forward priority 0; policy drop; }",
    ),
    ...rules.map((r) => nft(R, "add", "rule", "inet", "router", "forward", ...r)),
  );
}

beforeAll(async () => {
  requireRoot("the host tier");
  lab = await startLab({ id: "xf1", hosts: [{ name: "h1" }] });
  h1 = lab.host("h1");
  const ctx: LabContext = {
    lab,
    h: h1,
    connection: { host: h1.address, privateKey: h1.privateKey, hostKey: h1.hostKey },
    connectionsAtStart: transportStats.connections,
  };
  driver = new Driver("ConnectivityCheck", ctx);
  const { connection, failures } = resolveConnection(ctx.connection);
  if (!connection) throw new Error(failures.map((f) => f.reason).join("; "));
  host = hostFor(connection);
  await sh(
    ...[C, R, S].map((n) => ["ip", "netns", "add", n]),
    ip(C, "link", "add", "fc-r", "type", "veth", "peer", "name", "fr-c", "netns", R),
    ip(S, "link", "add", "fs-r", "type", "veth", "peer", "name", "fr-s", "netns", R),
    ip(C, "addr", "add", "10.41.0.1/24", "dev", "fc-r"),
    ip(R, "addr", "add", "10.41.0.254/24", "dev", "fr-c"),
    ip(R, "addr", "add", "10.42.0.254/24", "dev", "fr-s"),
    ip(S, "addr", "add", "10.42.0.1/24", "dev", "fs-r"),
    ...[
      [C, "fc-r"],
      [R, "fr-c"],
      [R, "fr-s"],
      [S, "fs-r"],
      [C, "lo"],
      [R, "lo"],
      [S, "lo"],
    ].map(([n, dev]) => ip(n!, "link", "set", dev!, "up")),
    ip(C, "route", "add", "default", "via", "10.41.0.254"),
    ip(S, "route", "add", "default", "via", "10.42.0.254"),
    ["ip", "netns", "exec", R, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
  );
});

afterAll(async () => {
  await closeAllSessions();
  await lab?.teardown();
});

describe("healthy paths the doctor used to call broken", () => {
  it("a policy-drop forward chain with the wiki's ct state vmap: healthy, and up passes", async () => {
    await forwardChain(
      ["ct", "state", "vmap", "{ established : accept, related : accept, invalid : drop }"],
      ["iifname", "fr-c", "oifname", "fr-s", "accept"],
    );
    expect(await ping()).toBe(true);
    const report = await diagnose(host, REQUEST());
    expect(
      report.checks.filter((c) => c.status !== "ok").map((c) => `${c.id}: ${c.evidence}`),
      explain(report),
    ).toEqual([]);
    const check = report.checks.find((c) => c.id === "nft.forward");
    expect(check?.evidence, explain(report)).toMatch(
      /reply 10.42.0.1 → 10.41.0.1 at forward: accept by ct state vmap/,
    );
    // The resource, as `pulumi up` drives it.
    const res = await driver.create(REQUEST());
    expect(res.outs.healthy, String(res.outs.summary)).toBe(true);
    await driver.delete(res);
  });

  it("a rule it cannot read before the policy drop: a warning naming it, not a failure", async () => {
    await forwardChain(["meta", "mark", "0", "accept"]);
    try {
      expect(await ping()).toBe(true);
      const report = await diagnose(host, REQUEST());
      expect(report.healthy, explain(report)).toBe(true);
      expect(report.checks.filter((c) => c.status === "fail")).toEqual([]);
      const check = report.checks.find((c) => c.id === "nft.forward");
      expect(check?.status, explain(report)).toBe("warn");
      expect(check?.evidence).toMatch(/unsure: not evaluated before it.*meta mark 0 accept/);
    } finally {
      await sh(nft(R, "flush", "ruleset"));
    }
  });

  it("a link without carrier whose /8 holds the destination, the kernel using a /16 via a gateway: no link.down", async () => {
    await sh(
      // fc-x is up but without carrier: its peer fc-y stays down.
      ip(C, "link", "add", "fc-x", "type", "veth", "peer", "name", "fc-y"),
      ip(C, "addr", "add", "10.0.0.1/8", "dev", "fc-x"),
      ip(C, "link", "set", "fc-x", "up"),
      ip(C, "route", "add", "10.42.0.0/16", "via", "10.41.0.254"),
    );
    try {
      const shown = await h1.exec(ip(C, "addr", "show", "dev", "fc-x"));
      expect(shown.stdout).toMatch(/NO-CARRIER/);
      expect(await ping()).toBe(true);
      const report = await diagnose(host, REQUEST());
      expect(report.healthy, explain(report)).toBe(true);
      expect(report.checks.map((c) => c.id)).not.toContain("link.down");
    } finally {
      await sh(ip(C, "link", "del", "fc-x"), ip(C, "route", "del", "10.42.0.0/16"));
    }
  });
});
