/**
 * The lab-host harness (lab/labhost.ts, lab/cli.ts) against the real kernel and a real
 * OpenSSH client: the hosts every other host and engine test stands on.
 *
 * Needs root. Uses lab ids "tlab", "tlabx", "tlabc" and "tlabcli" only, and never calls
 * cleanupAllLabs: other test files may have labs running on the same machine.
 */
import { spawn } from "node:child_process";
import { promises as fs, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cleanupLab,
  defaultFabric,
  fabricAddresses,
  fingerprint,
  labIdsIn,
  labNames,
  LAB_STATE_ROOT,
  overlappingRoutes,
  sshdArgv,
  startLab,
  tcpAccepts,
  validateSpecs,
  type Lab,
  type LabHost,
  type LabJson,
} from "../../lab/labhost";
import { requireRoot as requireRootFor } from "../support/lab";
import { waitFor } from "../support/wait";

interface Result {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs argv on this machine (root namespace); never throws on a non-zero exit. */
async function sh(argv: string[], opts: { cwd?: string } = {}): Promise<Result> {
  const { execa } = await import("execa");
  const r = await execa(argv[0], argv.slice(1), { reject: false, stdin: "ignore", ...opts });
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
}

function requireRoot(): void {
  requireRootFor("the lab-harness tier");
}

async function rootNetns(): Promise<string[]> {
  const r = await sh(["ip", "-json", "netns", "list"]);
  return r.stdout.trim()
    ? (JSON.parse(r.stdout) as Array<{ name: string }>).map((n) => n.name)
    : [];
}

async function rootLinks(): Promise<string[]> {
  const r = await sh(["ip", "-json", "link", "show"]);
  return (JSON.parse(r.stdout) as Array<{ ifname: string }>).map((l) => l.ifname);
}

/** Command lines of all processes on the machine. */
async function processCmdlines(): Promise<string[]> {
  const r = await sh(["ps", "-eo", "args="]);
  return r.stdout.split("\n");
}

/**
 * The machine's IPv4 routes, minus those of other labs that may come and go while this
 * file runs (their root links are `lnl<id>f`); `keepLink` is kept.
 */
async function rootRoutes(keepLink?: string): Promise<string[]> {
  const r = await sh(["ip", "-json", "-4", "route", "show", "table", "all"]);
  return (JSON.parse(r.stdout) as Array<Record<string, unknown>>)
    .filter((x) => !/^lnl[a-z0-9]+f$/.test(String(x.dev)) || x.dev === keepLink)
    .map((x) => JSON.stringify(x))
    .sort();
}

/** Root-namespace forwarding switches and iptables rules, to prove the lab leaves them be. */
async function rootPolicy(): Promise<string> {
  const sysctls = [
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/forwarding",
    "net/ipv6/conf/all/forwarding",
  ].map((k) => `${k}=${readFileSync(`/proc/sys/${k}`, "utf8").trim()}`);
  const rules = await sh(["iptables-save"]);
  if (rules.exitCode !== 0) throw new Error(`iptables-save failed: ${rules.stderr}`);
  const normalized = rules.stdout
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .map((l) => l.replace(/\[\d+:\d+\]/, "")); // packet counters move on their own
  return [...sysctls, ...normalized].join("\n");
}

/** An OpenSSH client that trusts exactly the keys in `knownHosts`. */
class SshClient {
  constructor(
    private readonly keyPath: string,
    private readonly knownHostsPath: string,
  ) {}

  run(host: Pick<LabHost, "address" | "port">, command: string, user = "root"): Promise<Result> {
    return sh([
      "ssh",
      ...["-F", "/dev/null", "-i", this.keyPath, "-p", String(host.port)],
      ...["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5"],
      ...["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${this.knownHostsPath}`],
      ...["-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"],
      `${user}@${host.address}`,
      command,
    ]);
  }
}

async function writeClientFiles(dir: string, key: string, knownHosts: string[]) {
  const keyPath = path.join(dir, "id");
  const knownHostsPath = path.join(dir, "known_hosts");
  await fs.writeFile(keyPath, key, { mode: 0o600 });
  await fs.writeFile(knownHostsPath, knownHosts.join("\n") + "\n");
  return new SshClient(keyPath, knownHostsPath);
}

// -----------------------------------------------------------------------------------------

describe("lab naming and addressing", () => {
  it.each([
    ["10.213.7.0/24", 3, "10.213.7.1", ["10.213.7.11", "10.213.7.12", "10.213.7.13"]],
    ["10.9.0.128/25", 1, "10.9.0.129", ["10.9.0.139"]],
    ["10.213.7.99/24", 1, "10.213.7.1", ["10.213.7.11"]],
    ["10.0.0.0/28", 4, "10.0.0.1", ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14"]],
  ])("addresses fabric %s with %i hosts from .1 and .11 on", (fabric, n, gateway, hosts) => {
    const a = fabricAddresses(fabric, n);
    expect(a.gateway).toBe(gateway);
    expect(a.hosts).toEqual(hosts);
  });

  it.each([
    ["a /28 that cannot hold a fifth host", "10.0.0.0/28", 5, /too small/],
    ["an IPv6 prefix", "fd00::/64", 1, /not an IPv4 CIDR/],
    ["a prefix length over 32", "10.0.0.0/33", 1, /not an IPv4 CIDR/],
    ["a shorthand address", "10.1/16", 1, /not an IPv4 CIDR/],
  ])("refuses %s as a fabric", (_label, fabric, n, message) => {
    expect(() => fabricAddresses(fabric, n)).toThrow(message);
  });

  it("derives a stable /24 inside 10.213.0.0/16 from the id", () => {
    expect(defaultFabric("tlab")).toBe(defaultFabric("tlab"));
    expect(defaultFabric("tlab")).toMatch(/^10\.213\.\d{1,3}\.0\/24$/);
    const octets = new Set(["a", "b", "c", "d", "e", "f"].map((id) => defaultFabric(id)));
    expect(octets.size).toBeGreaterThan(1);
  });

  it.each([
    ["a route inside the fabric", "10.213.5.64/26", true],
    ["a route containing the fabric", "10.0.0.0/8", true],
    ["the same prefix", "10.213.5.0/24", true],
    ["a host route inside the fabric", "10.213.5.200", true],
    ["a neighbouring prefix", "10.213.6.0/24", false],
    ["the default route", "default", false],
    ["an IPv6 route", "fd00::/64", false],
  ])("judges %s as overlapping: %s", (_label, dst, overlaps) => {
    expect(overlappingRoutes("10.213.5.0/24", [{ dst }])).toEqual(overlaps ? [dst] : []);
  });

  it("keeps every interface name of the longest id within 15 bytes", () => {
    const n = labNames("abcdefghijk");
    expect(Buffer.byteLength(n.rootLink)).toBeLessThanOrEqual(15);
    expect(Buffer.byteLength(n.hostPort("abcdef"))).toBeLessThanOrEqual(15);
    expect(() => labNames("abcdefghijkl")).toThrow(/must match/);
    expect(() => labNames("Bad-id")).toThrow(/must match/);
  });

  it("finds every lab that left a namespace, a root link or a state dir, and nothing else", () => {
    const ids = labIdsIn(
      ["lnl-a1-h1", "lnl-a1-fab", "lnl-b2-up", "lnlprobe", "blue", "lnl-Bad-h1"],
      ["lo", "eth0", "lnlc3f", "lnl-d4-x", "lnlf"],
      ["e5", "lab.json.tmp"],
    );
    expect(ids).toEqual(["a1", "b2", "c3", "e5"]);
  });

  it.each([
    ["an upper-case name", [{ name: "H1" }], /must match/],
    ["a seven-letter name", [{ name: "abcdefg" }], /must match/],
    ["the reserved name fab", [{ name: "fab" }], /reserved/],
    ["a repeated name", [{ name: "h1" }, { name: "h1" }], /repeated/],
    ["a negative delay", [{ name: "h1", sshdDelayMs: -1 }], /non-negative/],
  ])("refuses %s for a host", (_label, specs, message) => {
    expect(() => validateSpecs(specs)).toThrow(message);
  });

  it("starts sshd in private mount and PID namespaces of the host's netns, after the delay", () => {
    const argv = sshdArgv("lnl-t-h1", "/run/x/sshd_config", 1500);
    expect(argv.slice(0, 4)).toEqual(["ip", "netns", "exec", "lnl-t-h1"]);
    expect(argv).toEqual(expect.arrayContaining(["--mount", "--pid", "--kill-child"]));
    expect(argv.at(-1)).toMatch(
      /mount -t tmpfs .* \/run\/netns && mount -t tmpfs .* \/run\/linuxnet && sleep 1\.500 && exec \/usr\/sbin\/sshd -D -e -f/,
    );
  });
});

// -----------------------------------------------------------------------------------------

describe("a running lab of h1 (with a sudo user), h2 and h3 (sshd delayed 3 s)", () => {
  const ID = "tlab";
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  let h3: LabHost;
  let ssh: SshClient;
  let tmp: string;
  let startedAt: number;
  let startMs: number;
  let h3FirstTry: Result;
  let h3FirstTcp: boolean;
  let routesBefore: string[];
  let policyBefore: string;

  beforeAll(async () => {
    requireRoot();
    await cleanupLab(ID);
    routesBefore = await rootRoutes();
    policyBefore = await rootPolicy();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "lnl-lab-test-"));

    startedAt = Date.now();
    lab = await startLab({
      id: ID,
      hosts: [{ name: "h1", sudoUser: true }, { name: "h2" }, { name: "h3", sshdDelayMs: 3000 }],
    });
    startMs = Date.now() - startedAt;
    [h1, h2, h3] = ["h1", "h2", "h3"].map((n) => lab.host(n));
    ssh = await writeClientFiles(
      tmp,
      h1.privateKey,
      lab.hosts.map((h) => `${h.address} ${h.hostKey}`),
    );
    // Straight away, while h3 is still "booting".
    h3FirstTcp = await tcpAccepts(h3.address, 22, 500);
    h3FirstTry = await ssh.run(h3, "true");
    console.info(`startLab with 3 hosts took ${startMs} ms`);
  });

  afterAll(async () => {
    await lab?.teardown();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it("returns at once for the delayed host, which refuses SSH until its delay is over", async () => {
    expect(h3FirstTcp).toBe(false);
    expect(h3FirstTry.exitCode).toBe(255);
    expect(h3FirstTry.stderr).toMatch(/Connection refused/);

    const ok = await waitFor(
      async () => {
        const r = await ssh.run(h3, "echo up");
        return r.exitCode === 0 ? r : undefined;
      },
      {
        timeoutMs: Math.max(0, startedAt + 15_000 - Date.now()),
        intervalMs: 200,
        what: "h3 to accept SSH once its 3 s delay is over",
      },
    );
    expect(ok.stdout.trim()).toBe("up");
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3000);
  });

  it("describes every host with its own fabric address, key and fingerprint", () => {
    expect(lab.fabric).toBe(defaultFabric(ID));
    expect(lab.hosts.map((h) => h.address)).toEqual(fabricAddresses(lab.fabric, 3).hosts);
    expect(lab.gateway).toBe(fabricAddresses(lab.fabric, 3).gateway);
    expect(h1.netns).toBe("lnl-tlab-h1");
    expect(h1.sudoUser).toBe("lnlab");
    expect(h2.sudoUser).toBeUndefined();
    expect(h1.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(h1.hostKey).toMatch(/^ssh-ed25519 AAAA[\w+/=]+$/);
    expect(new Set(lab.hosts.map((h) => h.hostKey)).size).toBe(3);
    expect(() => lab.host("nope")).toThrow(/has no host "nope"/);
  });

  it("reports host key fingerprints exactly as ssh-keygen -l prints them", async () => {
    for (const h of lab.hosts) {
      const file = path.join(tmp, `${h.name}.pub`);
      await fs.writeFile(file, h.hostKey + "\n");
      const r = await sh(["ssh-keygen", "-l", "-f", file]);
      expect(r.stdout.split(" ")[1]).toBe(h.hostKeyFingerprint);
      expect(fingerprint(h.hostKey.split(" ")[1])).toBe(h.hostKeyFingerprint);
    }
  });

  it("serves real SSH on h1, which sees its own eth0 with its fabric address", async () => {
    const r = await ssh.run(h1, "ip -json addr show");
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const links = JSON.parse(r.stdout) as Array<{
      ifname: string;
      addr_info: Array<{ local: string }>;
    }>;
    expect(links.map((l) => l.ifname).sort()).toEqual(["eth0", "lo"]);
    const eth0 = links.find((l) => l.ifname === "eth0");
    expect(eth0?.addr_info.map((a) => a.local)).toContain(h1.address);
  });

  it("is refused by a client that pins a different host key", async () => {
    const wrong = await writeClientFiles(
      await fs.mkdtemp(path.join(tmp, "wrong-")),
      h1.privateKey,
      [`${h1.address} ${h2.hostKey}`],
    );
    const r = await wrong.run(h1, "true");
    expect(r.exitCode).toBe(255);
    expect(r.stderr).toMatch(/Host key verification failed/);
  });

  it("connects h1 to h2 over the fabric and gives hosts no route out of it", async () => {
    const ping = await h1.exec(["ping", "-c1", "-W2", h2.address]);
    expect(ping.exitCode).toBe(0);
    expect(ping.stdout).toMatch(/1 received/);

    const routes = JSON.parse((await h1.exec(["ip", "-json", "route"])).stdout) as Array<{
      dst: string;
    }>;
    expect(routes.map((r) => r.dst)).toEqual([lab.fabric]);
    const out = await h1.exec(["ping", "-c1", "-W1", "198.51.100.1"]);
    expect(out.exitCode).not.toBe(0);
    expect(out.stderr + out.stdout).toMatch(/unreachable/i);
  });

  it("keeps namespaces created over SSH on the host, unseen by the root and by other hosts", async () => {
    const add = await ssh.run(h1, "ip netns add lnlprobe && ip netns list");
    expect(add.exitCode).toBe(0);
    expect(add.stdout).toMatch(/^lnlprobe\b/m);

    expect((await h1.exec(["ip", "netns", "list"])).stdout).toMatch(/^lnlprobe\b/m);
    expect(await rootNetns()).not.toContain("lnlprobe");
    expect((await ssh.run(h2, "ip netns list")).stdout).not.toMatch(/lnlprobe/);
  });

  it("lets the sudo user do root-only work through sudo -n and not without it", async () => {
    const id = await ssh.run(h1, "id -un", "lnlab");
    expect(id.stdout.trim()).toBe("lnlab");

    // veth rather than dummy: the dummy module is not in every test kernel.
    const add = "ip link add lnlt0 type veth peer name lnlt1";
    const plain = await ssh.run(h1, add, "lnlab");
    expect(plain.exitCode).not.toBe(0);
    expect(plain.stderr).toMatch(/Operation not permitted/);

    const viaSudo = await ssh.run(h1, `sudo -n ${add} && sudo -n ip -json link`, "lnlab");
    expect(viaSudo.stderr).toBe("");
    expect(viaSudo.exitCode).toBe(0);
    expect(viaSudo.stdout).toMatch(/"ifname":"lnlt0"/);
    expect((await h1.exec(["ip", "link", "del", "lnlt0"])).exitCode).toBe(0);
  });

  it("refuses the sudo user on a host that did not ask for one", async () => {
    const r = await ssh.run(h2, "true", "lnlab");
    expect(r.exitCode).toBe(255);
    expect(r.stderr).toMatch(/Permission denied/);
  });

  it("refuses, before creating anything, a fabric that overlaps an existing route", async () => {
    const clash = ["tlabx", lab.fabric] as const;
    await expect(
      startLab({ id: clash[0], fabric: clash[1], hosts: [{ name: "h1" }] }),
    ).rejects.toThrow(
      /fabric 10\.213\.\d+\.0\/24 of lab "tlabx" overlaps existing route\(s\) 10\.213/,
    );
    const wider = lab.fabric.replace(/\.\d+\.0\/24$/, ".0.0/16");
    await expect(
      startLab({ id: clash[0], fabric: wider, hosts: [{ name: "h1" }] }),
    ).rejects.toThrow(/overlaps existing route/);
    expect((await rootNetns()).filter((n) => n.startsWith("lnl-tlabx-"))).toEqual([]);
    expect(await rootLinks()).not.toContain("lnltlabxf");
  });

  it("changes nothing in the root namespace but its one fabric link", async () => {
    expect((await rootLinks()).filter((l) => l.includes("tlab"))).toEqual(["lnltlabf"]);
    const during = await rootRoutes(lab.link);
    const added = during.filter((r) => !routesBefore.includes(r));
    expect(added.length).toBeGreaterThan(0);
    for (const r of added) expect(JSON.parse(r).dev).toBe(lab.link);
    expect(routesBefore.filter((r) => !during.includes(r))).toEqual([]);
    expect(await rootPolicy()).toBe(policyBefore);
  });

  it("kills everything, even processes in nested namespaces, and removes the lab at teardown", async () => {
    // A process in a namespace made over SSH: `ip netns pids` of the host cannot see it.
    const marker = "sleep 8431";
    const bg = await ssh.run(
      h2,
      `ip netns add lnlkeep && (ip netns exec lnlkeep setsid ${marker} </dev/null >/dev/null 2>&1 &)`,
    );
    expect(bg.exitCode).toBe(0);
    expect(await processCmdlines()).toContain(marker);

    const t0 = Date.now();
    await lab.teardown();
    console.info(`teardown of 3 hosts took ${Date.now() - t0} ms`);

    expect((await rootNetns()).filter((n) => n.startsWith("lnl-tlab-"))).toEqual([]);
    expect((await rootLinks()).filter((l) => l.includes("tlab"))).toEqual([]);
    const procs = await processCmdlines();
    expect(procs.filter((p) => p.includes(`${LAB_STATE_ROOT}/tlab/`))).toEqual([]);
    expect(procs).not.toContain(marker);
    await expect(fs.stat(lab.stateDir)).rejects.toThrow(/ENOENT/);
    expect(await rootRoutes()).toEqual(routesBefore);
    expect(await rootPolicy()).toBe(policyBefore);

    await lab.teardown(); // idempotent
  });
});

// -----------------------------------------------------------------------------------------

describe("cleanup after a crash", () => {
  const ID = "tlabc";

  beforeAll(requireRoot);
  afterAll(() => cleanupLab(ID));

  it("removes a half-built lab whose processes are still running", async () => {
    const names = labNames(ID);
    // What a crash midway through startLab leaves: a host netns with a live process,
    // the fabric netns, the root link, a state dir; no bridge port, no lab object.
    const fabric = fabricAddresses(defaultFabric(ID), 1);
    await sh(["ip", "netns", "add", names.fabricNetns]);
    await sh(["ip", "netns", "add", names.hostNetns("h1")]);
    await sh(["ip", "link", "add", names.rootLink, "type", "veth", "peer", "name", "x"]);
    await sh(["ip", "link", "set", "x", "netns", names.fabricNetns]);
    await sh(["ip", "addr", "add", `${fabric.gateway}/24`, "dev", names.rootLink]);
    await fs.mkdir(path.join(names.stateDir, "h1"), { recursive: true });
    const child = spawn("ip", ["netns", "exec", names.hostNetns("h1"), "sleep", "8432"], {
      detached: true,
      stdio: "ignore",
    });
    child.unref();
    await waitFor(async () => (await processCmdlines()).includes("sleep 8432"), {
      timeoutMs: 5_000,
      what: "the leftover process (sleep 8432) to run in the half-built host",
    });
    expect(await processCmdlines()).toContain("sleep 8432");

    // startLab cleans up its own id's leftovers instead of refusing them as an overlap.
    const lab = await startLab({ id: ID, hosts: [{ name: "h1" }] });
    expect(await processCmdlines()).not.toContain("sleep 8432");
    expect(await tcpAccepts(lab.host("h1").address, 22)).toBe(true);

    // And cleanupLab works from the id alone, with sshd still running.
    await cleanupLab(ID);
    expect((await rootNetns()).filter((n) => n.startsWith(names.netnsPrefix))).toEqual([]);
    expect(await rootLinks()).not.toContain(names.rootLink);
    expect((await processCmdlines()).filter((p) => p.includes(names.stateDir + "/"))).toEqual([]);
  });
});

// -----------------------------------------------------------------------------------------

describe("the lab command line", () => {
  const ID = "tlabcli";
  let build: string;

  /** Runs the compiled CLI in its own node process, as a user would. */
  const cli = (...args: string[]) => sh(["node", path.join(build, "lab", "cli.js"), ...args]);

  beforeAll(async () => {
    requireRoot();
    const root = path.resolve(__dirname, "..", "..");
    // Compile only the lab (not the whole project) so that this test does not depend on
    // the state of other work in progress. The build sits inside the repository so that
    // node resolves ipaddr.js and execa from its node_modules.
    build = await fs.mkdtemp(path.join(root, "node_modules", ".lnl-cli-test-"));
    const tsc = await sh(
      [
        path.join(root, "node_modules", ".bin", "tsc"),
        ...["--outDir", build, "--rootDir", root, "--module", "node16"],
        ...["--moduleResolution", "node16", "--target", "ES2022", "--strict"],
        ...["--esModuleInterop", "--skipLibCheck", "--types", "node"],
        path.join(root, "lab", "cli.ts"),
      ],
      { cwd: root },
    );
    expect(tsc.stdout + tsc.stderr).toBe("");
  });

  afterAll(async () => {
    await cleanupLab(ID);
    if (build) await fs.rm(build, { recursive: true, force: true });
  });

  it("starts a lab that outlives the command, reports it, and takes it down", async () => {
    const up = await cli("up", "--id", ID, "--hosts", "h1,up", "--sudo", "up", "--json");
    expect(up.stderr).toBe("");
    expect(up.exitCode).toBe(0);
    const desc = JSON.parse(up.stdout) as LabJson;
    expect(desc.hosts.map((h) => h.name)).toEqual(["h1", "up"]);
    expect(desc.hosts[1].sudoUser).toBe("lnlab");
    expect(JSON.parse(await fs.readFile(path.join(desc.stateDir, "lab.json"), "utf8"))).toEqual(
      desc,
    );
    const keyPath = desc.hosts[0].privateKeyPath;
    expect((await fs.stat(keyPath)).mode & 0o777).toBe(0o600);
    expect(await fs.readFile(keyPath, "utf8")).toBe(desc.hosts[0].privateKey);

    // The CLI process has exited; its sshd processes must still serve.
    const client = new SshClient(keyPath, desc.knownHostsPath);
    const r = await client.run(desc.hosts[1], "cat /proc/1/comm");
    expect(r.stdout.trim()).toBe("sshd");

    const status = await cli("status", "--id", ID);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/^up +10\.213\.\d+\.12 +up$/m);

    const text = await cli("up", "--id", ID, "--hosts", "h1");
    expect(text.exitCode, `lab up again failed: ${text.stderr}`).toBe(0);
    expect(text.stdout).toContain(
      `ssh -i ${keyPath} -o UserKnownHostsFile=${desc.knownHostsPath} root@${desc.hosts[0].address}`,
    );

    const down = await cli("down", "--id", ID);
    expect(down.exitCode).toBe(0);
    expect((await rootNetns()).filter((n) => n.startsWith(`lnl-${ID}-`))).toEqual([]);
    expect((await cli("status", "--id", ID)).stdout).toMatch(/not running/);
  });

  it("rejects a sudo host that is not one of the hosts, with usage", async () => {
    const r = await cli("up", "--id", ID, "--hosts", "h1", "--sudo", "h9");
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--sudo h9 is not one of --hosts\nusage:/);
    expect((await rootNetns()).filter((n) => n.startsWith(`lnl-${ID}-`))).toEqual([]);
  });
});
