/**
 * The firewall backends on real lab hosts over real SSH, each on a host that
 * has only its own command: `nf` has nft and no iptables (no `iptables*`
 * binary in its mount namespace), `ipt` has iptables and no nft. On each,
 * with `firewall: "auto"` (which must pick the one command there is):
 * NatRule and Bridge.acceptForwarding through create, read (from the host
 * snapshot), drift and delete, the host left exactly as before (`nft list
 * ruleset` included), traffic really masqueraded (the upstream host has no
 * route back, so only a masqueraded ping is answered), and what a foreign
 * `policy drop` forward chain does to our accept.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLab, type Lab, type LabHost } from "../../../lab/labhost";
import { closeAllSessions, hostFor, transportStats } from "../../../provider/transport";
import { hostSnapshots } from "../../../provider/runtime";
import { resolveConnection } from "../../../provider/transport/connection";
import {
  addNftRules,
  deleteNftRules,
  dnatFromHostRule,
  dnatRule,
  hairpinMasqueradeRule,
  readNftTable,
} from "../../../provider/firewall/nftables";
import { dnatTarget, metaMatch, portMatch } from "../../../provider/host/nftables";
import { requireRoot } from "../../support/lab";
import { snapshotHost } from "../../support/snapshot";
import {
  Driver,
  type LabContext,
  type Managed,
  addNamespace,
  inNs,
  ipForward,
  oob,
  oobAll,
  oobResult,
  removeNamespace,
  setIpForward,
} from "../support";

let lab: Lab;
const contexts: Record<string, LabContext> = {};

beforeAll(async () => {
  requireRoot("the host tier");
  lab = await startLab({
    id: "nfh",
    hosts: [
      { name: "nf", without: ["iptables"] },
      { name: "ipt", without: ["nftables"] },
      { name: "up" },
    ],
  });
  for (const name of ["nf", "ipt"]) {
    const h = lab.host(name);
    contexts[name] = {
      lab,
      h,
      connection: { host: h.address, privateKey: h.privateKey, hostKey: h.hostKey },
      connectionsAtStart: transportStats.connections,
    };
  }
});

afterAll(async () => {
  await closeAllSessions();
  await lab?.teardown();
});

/** Our table in `ns` as nft prints it, or undefined when there is none (out of band). */
async function ourTable(h: LabHost, ns?: string): Promise<string | undefined> {
  const r = await oobResult(h, inNs(ns, ["nft", "list", "table", "inet", "linuxnet"]));
  return r.exitCode === 0 ? r.stdout : undefined;
}

/** Pings `to` once from namespace `ns`: the exit code (0 answered). */
async function ping(h: LabHost, ns: string, to: string): Promise<number> {
  return (await oobResult(h, inNs(ns, ["ping", "-c", "1", "-W", "1", to]))).exitCode;
}

/** A namespace behind the host on 10.77.0.0/24 (host side 10.77.0.1), its default route via the host. */
async function addClient(h: LabHost): Promise<void> {
  await addNamespace(h, "ns-c");
  await oobAll(h, [
    ["ip", "link", "add", "vc-h", "type", "veth", "peer", "name", "vc-n", "netns", "ns-c"],
    ["ip", "addr", "add", "10.77.0.1/24", "dev", "vc-h"],
    ["ip", "link", "set", "vc-h", "up"],
    ["ip", "-n", "ns-c", "addr", "add", "10.77.0.2/24", "dev", "vc-n"],
    ["ip", "-n", "ns-c", "link", "set", "vc-n", "up"],
    ["ip", "-n", "ns-c", "route", "add", "default", "via", "10.77.0.1"],
  ]);
}

/** Two namespaces, ns-a (10.79.0.1) and ns-b (10.79.0.2), each with a veth into bridge `br`. */
async function addPorts(h: LabHost, br: string): Promise<void> {
  for (const [ns, ip] of [
    ["ns-a", "10.79.0.1/24"],
    ["ns-b", "10.79.0.2/24"],
  ] as const) {
    const end = `v${ns.slice(-1)}`;
    await addNamespace(h, ns);
    await oobAll(h, [
      ["ip", "link", "add", `${end}-br`, "type", "veth", "peer", "name", end, "netns", ns],
      ["ip", "link", "set", `${end}-br`, "master", br, "up"],
      ["ip", "-n", ns, "addr", "add", ip, "dev", end],
      ["ip", "-n", ns, "link", "set", end, "up"],
    ]);
  }
}

async function removePorts(h: LabHost): Promise<void> {
  for (const ns of ["ns-a", "ns-b"]) await removeNamespace(h, ns);
}

/** A foreign table whose forward chain drops everything by policy (firewalld/Docker-like), out of band. */
const FOREIGN_DROP = [
  "nft",
  "add table inet foreign\nadd chain inet foreign forward { type filter hook forward priority 0; policy drop; }",
];

describe.each([
  { host: "nf", backend: "nftables", other: "iptables" },
  { host: "ipt", backend: "iptables", other: "nftables" },
] as const)("on a host with only $backend", ({ host, backend, other }) => {
  const ctx = () => contexts[host]!;
  const h = () => ctx().h;
  // Tests of the nftables backend alone are not registered at all on the iptables host: a
  // skipped test would read as a gap in the run's summary (which fails on skips).
  const onlyOnNftables = backend === "nftables" ? it : ((() => undefined) as unknown as typeof it);
  const nat = () => new Driver("NatRule", ctx());
  const bridge = () => new Driver("Bridge", ctx());

  /** Our masquerade rules as the host has them, out of band: lines that carry the tag. */
  async function ourRules(res: Managed): Promise<string[]> {
    const tag = res.outs.tag as string;
    const text =
      backend === "nftables"
        ? ((await ourTable(h())) ?? "")
        : await oob(h(), ["iptables", "-w", "-t", "nat", "-S", "POSTROUTING"]);
    return text.split("\n").filter((l) => l.includes(tag));
  }

  it("has the one command and not the other", async () => {
    const has = async (cmd: string) =>
      (await oobResult(h(), ["sh", "-c", `command -v ${cmd}`])).exitCode === 0;
    expect(await has(backend === "nftables" ? "nft" : "iptables")).toBe(true);
    expect(await has(backend === "nftables" ? "iptables" : "nft")).toBe(false);
  });

  it(`NatRule with firewall auto picks ${backend}, records it, masquerades traffic for real, reads back from the snapshot, and deletes back to the host as it was`, async () => {
    await addClient(h());
    try {
      const up = lab.host("up");
      const before = await snapshotHost(h());
      // No NAT: the upstream host has no route back to 10.77.0.0/24 (and forwarding is off).
      expect(await ping(h(), "ns-c", up.address)).not.toBe(0);

      const d = nat();
      const res = await d.create({ source: "10.77.0.0/24", outInterface: "eth0" });
      expect(res.outs.firewallBackend).toBe(backend);
      expect(res.outs.firewall).toBe("auto");
      expect(await ourRules(res)).toHaveLength(1);
      if (backend === "nftables") {
        expect(await ourTable(h())).toContain(
          `ip saddr 10.77.0.0/24 oifname "eth0" masquerade comment "${res.outs.tag as string}"`,
        );
      }
      expect(await ipForward(h())).toBe("1");
      expect(await ping(h(), "ns-c", up.address)).toBe(0);
      await d.expectNoDrift(res);

      await d.delete(res);
      expect(await ourRules(res)).toEqual([]);
      expect(await ourTable(h())).toBeUndefined();
      expect(await snapshotHost(h())).toEqual(before);
      await d.delete(res);
      expect(await snapshotHost(h())).toEqual(before);
    } finally {
      await removeNamespace(h(), "ns-c");
      await oobResult(h(), ["ip", "link", "del", "vc-h"]);
    }
  });

  it("NatRule reads its rule deleted out of band as gone, and keeps a neighbour's when one of two goes", async () => {
    const before = await snapshotHost(h());
    const d = nat();
    const [one, two] = [
      await d.create({ source: "10.80.0.0/24" }),
      await d.create({ source: "10.81.0.0/24" }),
    ];
    // Drift: one rule deleted out of band, the way each backend deletes one.
    if (backend === "nftables") {
      const handle = /# handle (\d+)/.exec(
        (await oob(h(), ["nft", "-a", "list", "table", "inet", "linuxnet"]))
          .split("\n")
          .find((l) => l.includes(one.outs.tag as string))!,
      )![1]!;
      await oob(h(), [
        "nft",
        "delete",
        "rule",
        "inet",
        "linuxnet",
        "postrouting",
        "handle",
        handle,
      ]);
    } else {
      await oob(h(), [
        ...["iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-s", "10.80.0.0/24"],
        ...["-m", "comment", "--comment", one.outs.tag as string, "-j", "MASQUERADE"],
      ]);
    }
    hostSnapshots.clear(); // a refresh's snapshot from before the out-of-band change is stale
    expect(await d.read(one)).toBeUndefined();
    await d.expectNoDrift(two);
    await d.delete(one);
    expect(await ipForward(h())).toBe("1"); // the other rule still needs it
    await d.delete(two);
    expect(await snapshotHost(h())).toEqual(before);
  });

  onlyOnNftables(
    "NatRule reads our whole table deleted out of band as gone, and deletes cleanly after",
    async () => {
      const before = await snapshotHost(h());
      const d = nat();
      const res = await d.create({ source: "10.82.0.0/24" });
      await oob(h(), ["nft", "delete", "table", "inet", "linuxnet"]);
      hostSnapshots.clear();
      expect(await d.read(res)).toBeUndefined();
      await d.delete(res);
      expect(await snapshotHost(h())).toEqual(before);
    },
  );

  it(`PortForward with firewall auto picks ${backend}: a range and fromHost answered for real, no drift, a rule deleted out of band seen, and the host as it was after delete`, async () => {
    await addClient(h());
    // The service in ns-c: TCP on 80 and 81, each answering with the port it was reached on.
    const server = `for (const p of [80, 81]) require("net").createServer((s) => s.end("port " + p)).listen(p, "10.77.0.2");`;
    const client = (port: number) =>
      `const s = require("net").connect(${port}, process.argv[1]); let o = ""; s.on("data", (d) => (o += d)); s.on("end", () => { console.log(o); process.exit(0); }); s.on("error", (e) => console.log("ERROR " + e.code)); setTimeout(() => { console.log("TIMEOUT"); process.exit(2); }, 3000);`;
    const pid = (
      await oob(h(), [
        "sh",
        "-c",
        'ip netns exec ns-c node -e "$1" >/dev/null 2>&1 & echo $!',
        "sh",
        server,
      ])
    ).trim();
    const d = new Driver("PortForward", ctx());
    let res: Managed | undefined;
    try {
      const up = lab.host("up");
      const before = await snapshotHost(h());
      res = await d.create({ hostPort: "18080-18081", to: "10.77.0.2:80", fromHost: true });
      expect(res!.outs.firewallBackend).toBe(backend);
      expect(res!.outs.hairpinSource).toBe("10.77.0.0/24");
      for (const [port, answer] of [
        [18080, "port 80"],
        [18081, "port 81"],
      ] as const) {
        const fromUp = await oobResult(up, ["node", "-e", client(port), h().address]);
        expect(fromUp.stdout.trim(), `from up to ${port}`).toBe(answer);
        const fromHost = await oobResult(h(), ["node", "-e", client(port), h().address]);
        expect(fromHost.stdout.trim(), `from the host itself to ${port}`).toBe(answer);
      }
      await d.expectNoDrift(res!);

      // One rule of the forward deleted behind our back: the refresh says so and an update repairs it.
      if (backend === "nftables") {
        const table = (await readNftTable(
          hostFor(resolveConnection(ctx().connection).connection!),
          undefined,
        ))!;
        const one = table.rules.find((r) => r.chain === "output" && r.comment === res!.outs.tag)!;
        await oob(h(), [
          "nft",
          "delete",
          "rule",
          "inet",
          "linuxnet",
          "output",
          "handle",
          String(one.handle),
        ]);
      } else {
        await oob(h(), [
          "sh",
          "-c",
          `iptables -w -t nat -S OUTPUT | grep -- '${res!.outs.tag as string}' | head -1 | sed 's/^-A/-D/' | xargs iptables -w -t nat`,
        ]);
      }
      hostSnapshots.clear();
      const seen = await d.read(res!);
      expect(seen?.rulesIntact).toBe(false);

      await d.delete(res!);
      expect(await snapshotHost(h())).toEqual(before);
      await d.delete(res!);
    } finally {
      // A failed assertion must not leave rules or forwarding behind for the tests after it.
      if (res) await d.delete(res);
      await oobResult(h(), ["kill", pid]);
      await removeNamespace(h(), "ns-c");
      await oobResult(h(), ["ip", "link", "del", "vc-h"]);
    }
  });

  it(`refuses firewall "${other}" where its command is not there, saying so, and changes nothing`, async () => {
    const before = await snapshotHost(h());
    const error = await nat().createFails({ source: "10.83.0.0/24", firewall: other });
    expect(error.message).toContain(h().address);
    expect(error.message).toMatch(other === "nftables" ? /nft.*not found/ : /iptables.*not found/);
    expect(await snapshotHost(h())).toEqual(before);
  });

  it("Bridge.acceptForwarding with firewall auto: the rule in the recorded backend, drift when deleted, and the host as it was after delete", async () => {
    const before = await snapshotHost(h());
    const d = bridge();
    const res = await d.create({ name: "br-nf", acceptForwarding: true });
    expect(res!.outs.firewallBackend).toBe(backend);
    if (backend === "nftables") {
      expect(await ourTable(h())).toContain(
        'iifname "br-nf" oifname "br-nf" accept comment "linuxnet:bridge:br-nf"',
      );
    }
    await d.expectNoDrift(res!);
    // Drift: the rule deleted out of band reads as acceptForwarding false, and `up` puts it back.
    if (backend === "nftables") await oob(h(), ["nft", "delete", "table", "inet", "linuxnet"]);
    else {
      await oob(h(), [
        ...["iptables", "-w", "-D", "FORWARD", "-i", "br-nf", "-o", "br-nf"],
        ...["-m", "comment", "--comment", "linuxnet:bridge:br-nf", "-j", "ACCEPT"],
      ]);
    }
    hostSnapshots.clear();
    const drifted = await d.read(res);
    expect(drifted).toMatchObject({ acceptForwarding: false, firewallBackend: backend });
    const repaired = await d.update(
      { ...res, outs: { ...res.outs, ...drifted } },
      {
        name: "br-nf",
        acceptForwarding: true,
      },
    );
    expect(repaired.outs.firewallBackend).toBe(backend);
    await d.expectNoDrift(repaired);
    await d.delete(repaired);
    expect(await snapshotHost(h())).toEqual(before);
  });

  it(
    backend === "nftables"
      ? "Bridge.acceptForwarding does NOT let traffic through a foreign table's policy-drop forward chain: the kernel runs both chains, and a drop in either is final"
      : "Bridge.acceptForwarding lets traffic through a FORWARD policy DROP (Docker's): the rule goes first into that very chain",
    async () => {
      const d = bridge();
      const res = await d.create({ name: "br-fw", addresses: [], acceptForwarding: true });
      await addPorts(h(), "br-fw");
      try {
        // br_netfilter sends bridged IPv4 through the forward hook of the host's namespace.
        expect(
          (await oob(h(), ["cat", "/proc/sys/net/bridge/bridge-nf-call-iptables"])).trim(),
        ).toBe("1");
        expect(await ping(h(), "ns-a", "10.79.0.2")).toBe(0);
        if (backend === "nftables") {
          await oob(h(), FOREIGN_DROP);
          try {
            expect(await ping(h(), "ns-a", "10.79.0.2")).not.toBe(0);
            // Ours is still in place, and reads back so: the drop is someone else's.
            await d.expectNoDrift(res);
          } finally {
            await oob(h(), ["nft", "delete", "table", "inet", "foreign"]);
          }
        } else {
          await oob(h(), ["iptables", "-w", "-P", "FORWARD", "DROP"]);
          try {
            expect(await ping(h(), "ns-a", "10.79.0.2")).toBe(0);
            // Without our rule, the same policy drops the same ping.
            const off = await d.update(res, {
              name: "br-fw",
              addresses: [],
              acceptForwarding: false,
            });
            expect(await ping(h(), "ns-a", "10.79.0.2")).not.toBe(0);
            await d.update(off, { name: "br-fw", addresses: [], acceptForwarding: true });
          } finally {
            await oob(h(), ["iptables", "-w", "-P", "FORWARD", "ACCEPT"]);
          }
        }
      } finally {
        await removePorts(h());
        await d.delete(res);
      }
    },
  );

  onlyOnNftables(
    "NatRule next to a foreign table: ours comes and goes, theirs stays exactly as it was",
    async () => {
      await oob(h(), FOREIGN_DROP);
      try {
        const before = await snapshotHost(h());
        const d = nat();
        const res = await d.create({ source: "10.84.0.0/24" });
        await d.expectNoDrift(res);
        await d.delete(res);
        expect(await snapshotHost(h())).toEqual(before);
      } finally {
        await oob(h(), ["nft", "delete", "table", "inet", "foreign"]);
      }
    },
  );

  onlyOnNftables(
    "the DNAT rule builders for PortForward are taken by nft, read back with their handles, and go with the table",
    async () => {
      const before = await snapshotHost(h());
      const { connection } = resolveConnection(ctx().connection);
      const host = hostFor(connection!);
      const web = {
        protocol: "tcp",
        hostPort: 8080,
        to: "10.77.0.2:80",
        inInterface: "eth0",
      } as const;
      await addNftRules(host, undefined, [
        dnatRule(web, "linuxnet:pf-1"),
        dnatFromHostRule(web, "linuxnet:pf-1:host"),
        hairpinMasqueradeRule(web, "linuxnet:pf-1:hairpin"),
      ]);
      const table = (await readNftTable(host, undefined))!;
      expect(table.chains.map((c) => [c.name, c.hook, c.priority])).toEqual([
        ["prerouting", "prerouting", -100],
        ["output", "output", -100],
        ["postrouting", "postrouting", 100],
      ]);
      const [pre, out, hairpin] = table.rules;
      expect([metaMatch(pre!, "iifname"), portMatch(pre!), dnatTarget(pre!)]).toEqual([
        "eth0",
        { protocol: "tcp", port: 8080 },
        "10.77.0.2:80",
      ]);
      expect(dnatTarget(out!)).toBe("10.77.0.2:80");
      expect(hairpin!.comment).toBe("linuxnet:pf-1:hairpin");
      await deleteNftRules(host, undefined, "linuxnet:pf-1");
      expect(await ourTable(h())).toBeUndefined();
      expect(await snapshotHost(h())).toEqual(before);
    },
  );

  it("left forwarding off and nothing of ours on the host", async () => {
    expect(await ipForward(h())).toBe("0");
    expect(await ourTable(h())).toBeUndefined();
    await setIpForward(h(), undefined, 0);
  });
});
