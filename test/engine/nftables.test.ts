/**
 * The lab stack (the root Pulumi.yaml) on the real engine with
 * `linuxnet:firewall: nftables`, on a lab host that has nft and no iptables
 * at all: preview, up (NatRule's masquerade and the bridge's accept in our
 * own `inet linuxnet` table, traffic through both), a second up and a
 * refresh with no changes, and destroy back to exactly the host we started
 * from, `nft list ruleset` included. The steps share one stack and run in order.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, type LabHost, startLab } from "../../lab/labhost";
import { type HostSnapshot, snapshotHost } from "../support/snapshot";
import { ROOT, createTestStack, labHostConfig, type TestStack } from "./support";

/** Where the table as it was while the stack was up is written, for the record. */
const TABLE_RECORD = path.join(ROOT, ".pulumi-state", "nfe-linuxnet-table.txt");

describe("the lab stack with linuxnet:firewall nftables on a host without iptables", () => {
  let lab: Lab;
  let h1: LabHost;
  let upstream: LabHost;
  let test: TestStack;
  let before: HostSnapshot;

  const ping = async (from: string, to: string) =>
    (await h1.exec(["ip", "netns", "exec", from, "ping", "-c", "1", "-w", "10", to])).exitCode;
  const ourTable = async () => {
    const r = await h1.exec(["nft", "list", "table", "inet", "linuxnet"]);
    return r.exitCode === 0 ? r.stdout : undefined;
  };

  beforeAll(async () => {
    lab = await startLab({
      id: "nfe",
      hosts: [{ name: "h1", without: ["iptables"] }, { name: "up" }],
    });
    h1 = lab.host("h1");
    upstream = lab.host("up");
    expect((await h1.exec(["sh", "-c", "command -v iptables"])).exitCode).not.toBe(0);
    test = await createTestStack(ROOT, "nfe", {
      ...labHostConfig(h1),
      "linuxnet:firewall": { value: "nftables" },
    });
    before = await snapshotHost(h1);
  });

  afterAll(async () => {
    await test?.stack.destroy().catch(() => undefined);
    await test?.dispose();
    await lab?.teardown();
  });

  it("previews twelve creations and touches nothing", async () => {
    const preview = await test.stack.preview();
    expect(preview.changeSummary).toEqual({ create: 12 });
    expect(await snapshotHost(h1)).toEqual(before);
  });

  it("builds the network with its masquerade and bridge accept in our own nftables table", async () => {
    const up = await test.stack.up();
    expect(up.summary.resourceChanges).toEqual({ create: 12 });

    const table = await ourTable();
    fs.writeFileSync(TABLE_RECORD, table ?? "(no table)\n");
    expect(table).toMatch(
      /ip saddr 10\.0\.0\.0\/24 oifname "eth0" masquerade comment "linuxnet:nat-[0-9a-f]{8}:fwd"/,
    );
    expect(table).toContain('iifname "br0" oifname "br0" accept comment "linuxnet:bridge:br0"');
    // The lab stack's PortForward of 8080 to ns-green's port 80, from outside and from the host.
    expect(table).toMatch(
      /tcp dport 8080 dnat ip to 10\.0\.0\.2:80 comment "linuxnet:pf-[0-9a-f]{8}:fwd"/,
    );
    expect(table).toMatch(
      /fib daddr type local tcp dport 8080 dnat ip to 10\.0\.0\.2:80 comment "linuxnet:pf-[0-9a-f]{8}:fwd"/,
    );
    expect(table).toContain("type nat hook postrouting priority srcnat; policy accept;");
    expect(table).toContain("type filter hook forward priority filter; policy accept;");

    const resources = (await test.stack.exportStack()).deployment.resources as {
      type: string;
      outputs?: Record<string, unknown>;
    }[];
    for (const kind of ["NatRule", "Bridge", "PortForward"]) {
      const r = resources.find((x) => x.type === `pulumi-nodejs:dynamic/linuxnet:${kind}`);
      expect(r?.outputs).toMatchObject({ firewall: "nftables", firewallBackend: "nftables" });
    }

    expect(await ping("ns-blue", "10.0.0.2")).toBe(0); // over the bridge, through our accept
    expect(await ping("ns-blue", upstream.address)).toBe(0); // masqueraded by our table
  });

  it("changes nothing on a second up", async () => {
    await test.stack.preview({ expectNoChanges: true });
    const up = await test.stack.up();
    expect(up.summary.resourceChanges).toEqual({ same: 12 });
  });

  it("changes nothing on refresh, which reads the table from the host snapshot", async () => {
    const refresh = await test.stack.refresh();
    expect(refresh.summary.resourceChanges).toEqual({ same: 12 });
    await test.stack.preview({ expectNoChanges: true });
  });

  it("destroys back to exactly the host it started from, our table gone", async () => {
    const destroy = await test.stack.destroy();
    expect(destroy.summary.resourceChanges).toEqual({ delete: 12 });
    expect(await ourTable()).toBeUndefined();
    expect(await snapshotHost(h1)).toEqual(before);
  });
});
