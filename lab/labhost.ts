/**
 * Lab hosts: stand-in remote machines built from kernel primitives on this machine.
 *
 * A lab is one fabric bridge plus N hosts. Each host is a network namespace with an
 * `eth0` on the fabric, plus a private mount and PID namespace in which a real `sshd`
 * runs, so tests, the demo and benchmarks reach it over real SSH exactly like a remote
 * box. Everything is named from the lab id, so a lab can always be found and removed
 * again by name alone, even after the process that built it crashed.
 *
 * Layout for id "t1", fabric 10.213.X.0/24:
 *
 * ```
 *  root netns                 netns lnl-t1-fab              netns lnl-t1-h1
 *  lnlt1f 10.213.X.1 <-veth-> lnlroot ─┐
 *                                   lnlbr (bridge)
 *                             lnlph1 ──┘ <-------veth------> eth0 10.213.X.11, sshd :22
 * ```
 *
 * Needs root. Uses only `ip`, `nsenter`, `unshare`, `ssh-keygen`, `sshd` and, for the
 * optional sudo user, `useradd`/`usermod`/`visudo`.
 */
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { promises as fs, openSync, closeSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import ipaddr from "ipaddr.js";
import { quoteArg, quoteArgv } from "../provider/shell/quote";

/** Non-root login created for `sudoUser` hosts. */
export const LAB_SUDO_USER = "lnlab";

/** Where per-lab state (keys, sshd configs, logs, lab.json) lives; `/run` so a reboot clears it. */
export const LAB_STATE_ROOT = process.env.LINUXNET_LAB_STATE_DIR ?? "/run/linuxnet-lab";

/** Sudoers drop-in for {@link LAB_SUDO_USER}; stays on the machine between labs, like the user. */
export const LAB_SUDOERS_FILE = "/etc/sudoers.d/linuxnet-lab";

const SSHD = "/usr/sbin/sshd";
const ID_RE = /^[a-z0-9]{1,11}$/; // "lnl" + id + "f" must fit IFNAMSIZ-1 = 15 bytes
const NAME_RE = /^[a-z0-9]{1,6}$/;
const FABRIC_BRIDGE = "lnlbr";
const FABRIC_ROOT_PORT = "lnlroot";
const FIRST_HOST_OFFSET = 11;
const READY_TIMEOUT_MS = 10_000;

/** What to build for one host. */
export interface LabHostSpec {
  /** Short host name, `[a-z0-9]{1,6}` (e.g. "h1", "up"); not "fab". */
  name: string;
  /** Also allow SSH login as {@link LAB_SUDO_USER} with passwordless `sudo -n`. */
  sudoUser?: boolean;
  /**
   * Start sshd only after this delay, like a VM that is still booting. `startLab` does
   * not wait for such a host, so a client has to retry.
   */
  sshdDelayMs?: number;
  /** Text sshd sends before authentication (`Banner`), as many real hosts do. */
  banner?: string;
  /**
   * Inside this host only: {@link LAB_SUDO_USER} has this password, and sshd accepts
   * it (password authentication). Needs `sudoUser`. Done with a bind mount in the
   * host's own mount namespace: the machine's `/etc/shadow` stays as it is.
   */
  password?: string;
  /** Inside this host only: sudo asks {@link LAB_SUDO_USER} for its `password` (no NOPASSWD). */
  sudoAsksPassword?: boolean;
  /**
   * Firewall commands this host does not have, as a minimal image or an
   * nftables-only distribution: `["iptables"]` hides `iptables*`,
   * `ip6tables*`, `xtables*`, `arptables*` and `ebtables*`, `["nftables"]`
   * hides `nft`, so that `command -v` fails for them over SSH and in
   * {@link LabHost.exec}. The kernel (and any rules in it) stays the same.
   */
  without?: ("iptables" | "nftables")[];
}

/** The commands each {@link LabHostSpec.without} entry hides, as `case` patterns. */
export const HIDDEN_COMMANDS: Readonly<Record<"iptables" | "nftables", readonly string[]>> = {
  iptables: ["iptables*", "ip6tables*", "xtables*", "arptables*", "ebtables*"],
  nftables: ["nft"],
};

/** Result of running a command; a non-zero exit is a result, not an exception. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A running lab host, with everything a client needs to reach it over SSH. */
export interface LabHost {
  /** The spec name, e.g. "h1". */
  name: string;
  /** The host's network namespace, as `ip netns list` in the root namespace shows it. */
  netns: string;
  /** Fabric IPv4 address; sshd listens on port 22 there. */
  address: string;
  /** SSH port (22). */
  port: number;
  /** Login user with full rights. */
  user: "root";
  /** OpenSSH private key text (ed25519) authorized for root (and the sudo user). */
  privateKey: string;
  /** Path of a 0600 file holding {@link LabHost.privateKey}, for `ssh -i`. */
  privateKeyPath: string;
  /** Public host key line, `ssh-ed25519 AAAA...` (no comment). */
  hostKey: string;
  /** Host key fingerprint as `ssh-keygen -l` prints it: `SHA256:...`. */
  hostKeyFingerprint: string;
  /** Non-root login with passwordless `sudo -n`, when the spec asked for one. */
  sudoUser?: string;
  /** sshd start delay from the spec, 0 when none. */
  sshdDelayMs: number;
  /**
   * Runs argv inside the host (its network, mount and PID namespaces), out of band,
   * so tests can inspect what a command over SSH really did.
   *
   * Equivalent to: `nsenter -t <host init pid> -n -m -p -- argv...`
   */
  exec(argv: string[]): Promise<ExecResult>;
}

/** A running lab. */
export interface Lab {
  /** Lab id; every name the lab creates derives from it. */
  id: string;
  /** Fabric IPv4 CIDR, e.g. "10.213.42.0/24". */
  fabric: string;
  /** Root-namespace address on the fabric link (the fabric's `.1`); tests connect from it. */
  gateway: string;
  /** Root-namespace interface with {@link Lab.gateway}, e.g. "lnlt1f". */
  link: string;
  /** Per-lab state directory (keys, configs, logs, lab.json, known_hosts). */
  stateDir: string;
  /** known_hosts file listing every host's key, for `ssh -o UserKnownHostsFile=`. */
  knownHostsPath: string;
  /** Hosts in spec order. */
  hosts: LabHost[];
  /** The host named `name`; throws when there is none. */
  host(name: string): LabHost;
  /** Removes everything the lab made; same as {@link cleanupLab}(id). Idempotent. */
  teardown(): Promise<void>;
}

/** Options for {@link startLab}. */
export interface StartLabOptions {
  /** Lab id, `[a-z0-9]{1,11}`; default env LINUXNET_LAB_ID, else "main". */
  id?: string;
  /** Fabric IPv4 CIDR; default env LINUXNET_LAB_FABRIC, else {@link defaultFabric}(id). */
  fabric?: string;
  /** Hosts to build, addressed .11, .12, ... in this order. */
  hosts: LabHostSpec[];
}

/** The JSON form of a host in lab.json and `cli up --json`: {@link LabHost} minus `exec`. */
export type LabHostJson = Omit<LabHost, "exec">;

/** The JSON form of a lab in lab.json and `cli up --json`. */
export interface LabJson {
  id: string;
  fabric: string;
  gateway: string;
  link: string;
  stateDir: string;
  knownHostsPath: string;
  hosts: LabHostJson[];
}

/**
 * A command the harness ran failed. Carries the command and its stderr so the message
 * alone says what went wrong, in the style of
 * `running "ip link add x type veth": exit 2: RTNETLINK answers: File exists`.
 */
export class LabCommandError extends Error {
  /** The argv that was run. */
  readonly command: string[];
  /** Exit code, or -1 when it could not be started or was killed by a signal. */
  readonly exitCode: number;
  /** Its standard error, trimmed. */
  readonly stderr: string;

  constructor(command: string[], exitCode: number, stderr: string) {
    super(`running "${quoteArgv(command)}": exit ${exitCode}: ${stderr.trim() || "(no stderr)"}`);
    this.name = "LabCommandError";
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr.trim();
  }
}

// ---------------------------------------------------------------------------------------
// Names and addresses (pure)

/** Names of everything a lab with this id creates. Pure. */
export function labNames(id: string) {
  validateId(id);
  return {
    /** Prefix of all of the lab's network namespaces. */
    netnsPrefix: `lnl-${id}-`,
    /** Namespace holding the fabric bridge. */
    fabricNetns: `lnl-${id}-fab`,
    /** The single root-namespace link (a veth end) of the lab. */
    rootLink: `lnl${id}f`,
    /** State directory. */
    stateDir: path.join(LAB_STATE_ROOT, id),
    /** Namespace of host `name`. */
    hostNetns: (name: string) => `lnl-${id}-${name}`,
    /** Fabric bridge port of host `name`, inside the fabric namespace. */
    hostPort: (name: string) => `lnlp${name}`,
  };
}

/** Throws unless `id` is a valid lab id (`[a-z0-9]{1,11}`). Pure. */
export function validateId(id: string): void {
  if (!ID_RE.test(id)) {
    throw new Error(`lab id ${JSON.stringify(id)} must match ${ID_RE} (it is part of link names)`);
  }
}

/** Throws unless the host specs have valid, distinct names and sane delays. Pure. */
export function validateSpecs(specs: LabHostSpec[]): void {
  const seen = new Set<string>();
  for (const s of specs) {
    if (!NAME_RE.test(s.name)) {
      throw new Error(`lab host name ${JSON.stringify(s.name)} must match ${NAME_RE}`);
    }
    // "fab" would collide with the fabric namespace lnl-<id>-fab.
    if (s.name === "fab") throw new Error(`lab host name "fab" is reserved for the fabric`);
    if (seen.has(s.name)) throw new Error(`lab host name ${JSON.stringify(s.name)} is repeated`);
    seen.add(s.name);
    const d = s.sshdDelayMs;
    if (d !== undefined && !(Number.isFinite(d) && d >= 0)) {
      throw new Error(`sshdDelayMs of ${s.name} must be a non-negative number, got ${d}`);
    }
    if (s.sudoAsksPassword && s.password === undefined) {
      throw new Error(`sudoAsksPassword of ${s.name} needs a password`);
    }
    if (s.password !== undefined && !s.sudoUser) {
      throw new Error(`password of ${s.name} is the sudo user's: it needs sudoUser: true`);
    }
    if (s.password !== undefined && !/^[^\s:]{1,64}$/.test(s.password)) {
      throw new Error(`password of ${s.name} must be 1 to 64 characters, no spaces or colons`);
    }
    for (const w of s.without ?? []) {
      if (!Object.hasOwn(HIDDEN_COMMANDS, w)) {
        throw new Error(
          `without of ${s.name}: ${JSON.stringify(w)} is not "iptables" or "nftables"`,
        );
      }
    }
  }
}

/**
 * The default fabric of a lab: a /24 in 10.213.0.0/16 whose third octet is the first
 * byte of sha256(id). Deterministic, so a crashed lab's leftovers are recognisable and
 * two lab ids rarely collide (when they do, the overlap check says so). Pure.
 */
export function defaultFabric(id: string): string {
  const octet = createHash("sha256").update(id).digest()[0];
  return `10.213.${octet}.0/24`;
}

/** Addresses of a fabric: the root side (.1) and the hosts (.11, .12, ...). Pure. */
export function fabricAddresses(
  fabric: string,
  hostCount: number,
): { network: string; prefix: number; gateway: string; hosts: string[] } {
  if (!ipaddr.IPv4.isValidCIDRFourPartDecimal(fabric)) {
    throw new Error(`lab fabric ${JSON.stringify(fabric)} is not an IPv4 CIDR like 10.213.7.0/24`);
  }
  const [, prefix] = ipaddr.IPv4.parseCIDR(fabric);
  const base = toUint32(ipaddr.IPv4.networkAddressFromCIDR(fabric));
  const size = 2 ** (32 - prefix);
  // The last usable address is size-2 (size-1 is the broadcast).
  if (FIRST_HOST_OFFSET + hostCount - 1 > size - 2) {
    throw new Error(`lab fabric ${fabric} is too small for ${hostCount} hosts from .11`);
  }
  return {
    network: `${fromUint32(base)}/${prefix}`,
    prefix,
    gateway: fromUint32(base + 1),
    hosts: Array.from({ length: hostCount }, (_, i) => fromUint32(base + FIRST_HOST_OFFSET + i)),
  };
}

/**
 * The routes (from `ip -json route show table all`) whose destination overlaps `fabric`.
 * Default routes are ignored: every prefix lies inside 0.0.0.0/0, and a more specific
 * connected route wins over them, so they cannot steal fabric traffic. Non-IPv4 entries
 * are ignored. Pure.
 */
export function overlappingRoutes(fabric: string, routes: Array<{ dst?: string }>): string[] {
  const fab = ipaddr.IPv4.parseCIDR(fabric);
  const hits: string[] = [];
  for (const r of routes) {
    const dst = r.dst;
    if (!dst || dst === "default") continue;
    const cidr = dst.includes("/") ? dst : `${dst}/32`;
    if (!ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr)) continue;
    const other = ipaddr.IPv4.parseCIDR(cidr);
    // Two prefixes overlap exactly when one contains the other's network address at the
    // shorter of the two lengths.
    const bits = Math.min(fab[1], other[1]);
    if (fab[0].match(other[0], bits)) hits.push(dst);
  }
  return hits;
}

/**
 * The argv that starts a host's sshd: inside its network namespace, in fresh mount and
 * PID namespaces, with its own `/run/netns`, after an optional boot delay. Pure.
 *
 * - The private mount namespace and tmpfs on `/run/netns` make `ip netns add` over SSH
 *   create namespaces only this host sees, which vanish with it, as on a real machine.
 * - The PID namespace makes sshd its init: when sshd dies the kernel kills every process
 *   it started, including ones a test left running inside nested namespaces that no
 *   `ip netns pids` in the root would find. `--mount-proc` keeps `/proc` (and so
 *   `ip netns pids` run over SSH) consistent with it.
 * - `--kill-child` ties the host to the `unshare` process, so killing the pids that the
 *   root sees in the host netns takes the whole host down.
 * - The mount happens before the delay so {@link LabHost.exec} sees the host's own
 *   `/run/netns` while it is still "booting".
 *
 * Equivalent to: `ip netns exec NS unshare --mount --propagation private --pid --fork
 * --kill-child --mount-proc sh -c '...; exec /usr/sbin/sshd -D -e -f CFG'`
 */
export function sshdArgv(
  netns: string,
  configPath: string,
  delayMs = 0,
  binds: ReadonlyArray<readonly [source: string, target: string]> = [],
  hide?: { readonly dir: string; readonly patterns: readonly string[] },
): string[] {
  // Each host gets its own /run/netns (namespaces made over SSH stay its own) and /run/linuxnet
  // (where the provider keeps host-side records): the rest of /run is the machine's, shared.
  const steps = [
    "mkdir -p /run/netns /run/linuxnet",
    "mount -t tmpfs -o mode=755 lnlab /run/netns",
    "mount -t tmpfs -o mode=755 lnlab /run/linuxnet",
    ...binds.map(([source, target]) => `mount --bind ${quoteArg(source)} ${quoteArg(target)}`),
  ];
  if (hide && hide.patterns.length > 0) {
    // /usr/sbin (and /sbin, its symlink) becomes a tmpfs of symlinks to every real binary but
    // the hidden ones, which stay reachable only at `dir` (the real /usr/sbin, bound there).
    if (hide.patterns.some((p) => !/^[A-Za-z0-9*_.-]+$/.test(p))) {
      throw new Error(`hidden command patterns must be plain words: ${hide.patterns.join(" ")}`);
    }
    const dir = quoteArg(hide.dir);
    steps.push(
      `mkdir -p ${dir}`,
      `mount --bind /usr/sbin ${dir}`,
      "mount -t tmpfs -o mode=755 lnlab /usr/sbin",
      `for f in ${dir}/*; do case "\${f##*/}" in ${hide.patterns.join("|")}) ;; *) ln -s "$f" "/usr/sbin/\${f##*/}" ;; esac; done`,
    );
  }
  if (delayMs > 0) steps.push(`sleep ${(delayMs / 1000).toFixed(3)}`);
  steps.push(`exec ${SSHD} -D -e -f ${quoteArg(configPath)}`);
  return [
    "ip",
    "netns",
    "exec",
    netns,
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    "sh",
    "-c",
    steps.join(" && "),
  ];
}

/** The sshd_config of a host. Pure. */
export function sshdConfig(opts: {
  address: string;
  hostKeyPath: string;
  authorizedKeysPath: string;
  pidFile: string;
  allowSudoUser: boolean;
  /** A file whose text sshd sends before authentication. */
  bannerPath?: string;
  /** Accept password logins (of the sudo user, the only one with a password). */
  passwordAuthentication?: boolean;
}): string {
  const users = opts.allowSudoUser ? `root ${LAB_SUDO_USER}` : "root";
  return [
    "# Written by pulumi-linuxnet lab/labhost.ts; removed at teardown.",
    "Port 22",
    `ListenAddress ${opts.address}`,
    `HostKey ${opts.hostKeyPath}`,
    // One authorized_keys for every user; AllowUsers decides who may actually log in.
    `AuthorizedKeysFile ${opts.authorizedKeysPath}`,
    `AllowUsers ${users}`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    `PasswordAuthentication ${opts.passwordAuthentication ? "yes" : "no"}`,
    "KbdInteractiveAuthentication no",
    // PAM would lock out the sudo user (no password set) and adds nothing here.
    "UsePAM no",
    // The state dir under /run is root-owned but not laid out like ~/.ssh.
    "StrictModes no",
    // sshd is PID 1 of the host's PID namespace, so this file says "1"; cleanup finds
    // processes with `ip netns pids` instead.
    `PidFile ${opts.pidFile}`,
    ...(opts.bannerPath ? [`Banner ${opts.bannerPath}`] : []),
    "PrintMotd no",
    "Subsystem sftp /usr/lib/openssh/sftp-server",
    // MaxSessions and MaxStartups stay at their defaults (10, 10:30:100) on purpose:
    // clients must cope with the limits of a stock sshd.
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------
// Commands

/**
 * Runs argv; resolves with the result whatever the exit code. Plain `spawn` (no execa),
 * so the lab ships with the package (`linuxnet.lab.LabHost`) without a dependency.
 */
function runResult(argv: string[], input?: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      timeout: 60_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    let failed: string | undefined;
    // Not started: surface why in stderr, where callers look.
    child.on("error", (e) => {
      failed = e.message;
      resolve({ stdout: "", stderr: failed, exitCode: -1 });
    });
    if (input !== undefined) child.stdin!.end(input);
    child.on("close", (code) => {
      const stdout = Buffer.concat(out).toString().replace(/\n$/, "");
      const stderr = Buffer.concat(err).toString().replace(/\n$/, "");
      if (code === null || failed !== undefined) {
        resolve({
          stdout,
          stderr: failed ?? (stderr || "did not run to completion"),
          exitCode: -1,
        });
      } else {
        resolve({ stdout, stderr, exitCode: code });
      }
    });
  });
}

/** Runs argv; throws a {@link LabCommandError} unless it exits 0. */
async function run(argv: string[], input?: string): Promise<string> {
  const r = await runResult(argv, input);
  if (r.exitCode !== 0) throw new LabCommandError(argv, r.exitCode, r.stderr);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------
// Inspecting the machine

async function listNetns(): Promise<string[]> {
  // `ip -json netns list` prints nothing at all when there are none.
  const out = (await run(["ip", "-json", "netns", "list"])).trim();
  if (!out) return [];
  return (JSON.parse(out) as Array<{ name: string }>).map((n) => n.name);
}

async function listRootLinks(): Promise<string[]> {
  const out = await run(["ip", "-json", "link", "show"]);
  return (JSON.parse(out) as Array<{ ifname: string }>).map((l) => l.ifname);
}

async function netnsPids(netns: string): Promise<number[]> {
  // Fails when the namespace is already gone, which for cleanup means "no processes".
  const r = await runResult(["ip", "netns", "pids", netns]);
  if (r.exitCode !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 0);
}

/**
 * The root-namespace pid of a host's init (the process that is PID 1 in its PID
 * namespace: the delay shell, then sshd), or undefined when the host is not running.
 */
async function hostInitPid(netns: string): Promise<number | undefined> {
  for (const pid of await netnsPids(netns)) {
    let status: string;
    try {
      status = await fs.readFile(`/proc/${pid}/status`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    const nspid = /^NSpid:\s*(.*)$/m.exec(status)?.[1].trim().split(/\s+/);
    if (nspid && nspid.length > 1 && nspid[nspid.length - 1] === "1") return pid;
  }
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves true once `address:port` accepts a TCP connection, false after `timeoutMs`. */
export async function waitForTcp(address: string, port: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await tcpAccepts(address, port, 1000)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

/** Whether `address:port` accepts a TCP connection right now. */
export function tcpAccepts(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: address, port, timeout: timeoutMs });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once("connect", () => done(true));
    sock.once("timeout", () => done(false));
    sock.once("error", () => done(false));
  });
}

// ---------------------------------------------------------------------------------------
// Teardown

/**
 * Removes everything lab `id` made: kills every process in its namespaces, deletes the
 * host and fabric namespaces, the root-side link and the state directory. Safe to call
 * any number of times, on a lab that never existed, and after a crash that left sshd
 * running or the lab half built. The sudo user and its sudoers drop-in stay (shared by
 * all labs, harmless without an sshd that lets it in).
 *
 * Equivalent to: `kill $(ip netns pids lnl-ID-*)`; `ip netns del lnl-ID-*`;
 * `ip link del lnlIDf`; `rm -rf /run/linuxnet-lab/ID`
 */
export async function cleanupLab(id: string): Promise<void> {
  const names = labNames(id);
  const namespaces = (await listNetns()).filter((n) => n.startsWith(names.netnsPrefix));

  await killNetnsProcesses(namespaces);

  for (const ns of namespaces) {
    const r = await runResult(["ip", "netns", "del", ns]);
    // Already gone is what we want; anything else is a real failure to report.
    if (r.exitCode !== 0 && !/No such file/.test(r.stderr)) {
      throw new LabCommandError(["ip", "netns", "del", ns], r.exitCode, r.stderr);
    }
  }

  // Deleting the fabric namespace takes the peer with it, but the kernel frees a
  // namespace asynchronously; delete the root end now so its route is gone on return.
  if ((await listRootLinks()).includes(names.rootLink)) {
    const r = await runResult(["ip", "link", "del", names.rootLink]);
    if (r.exitCode !== 0 && !/Cannot find device/.test(r.stderr)) {
      throw new LabCommandError(["ip", "link", "del", names.rootLink], r.exitCode, r.stderr);
    }
  }

  await fs.rm(names.stateDir, { recursive: true, force: true });
}

/**
 * Takes one host of a running lab away, as if its VM were deleted: its processes
 * (sshd and all it started) are killed and its network namespace deleted, which
 * takes its fabric port with it. The fabric and the other hosts stay; the host's
 * address then answers nothing, and traffic to it stays on the fabric.
 */
export async function removeLabHost(host: LabHost): Promise<void> {
  const m = /^lnl-([a-z0-9]{1,11})-([a-z0-9]{1,6})$/.exec(host.netns);
  if (!m) throw new Error(`${host.netns} is not a lab host's namespace`);
  const names = labNames(m[1]!);
  // The fabric port first: the kernel frees a deleted namespace (and the veth in it) later.
  const port = ["ip", "-n", names.fabricNetns, "link", "del", names.hostPort(m[2]!)];
  const unplugged = await runResult(port);
  if (unplugged.exitCode !== 0 && !/Cannot find device/.test(unplugged.stderr)) {
    throw new LabCommandError(port, unplugged.exitCode, unplugged.stderr);
  }
  await killNetnsProcesses([host.netns]);
  const r = await runResult(["ip", "netns", "del", host.netns]);
  if (r.exitCode !== 0 && !/No such file/.test(r.stderr)) {
    throw new LabCommandError(["ip", "netns", "del", host.netns], r.exitCode, r.stderr);
  }
}

/**
 * Reboots one host of a running lab, as a VM restarts: sshd and everything it started
 * stop, the host's network namespace (and with it every namespace, link, route and
 * rule made in it, and the mount namespace holding its own `/run/netns`) is dropped,
 * then the host comes back with the same address, host key and login, a new boot id
 * and, when it has `sshdDelayMs`, sshd starting that late again. Returns once sshd
 * accepts TCP (at once for a host with a delay, which is still "booting").
 */
export async function rebootLabHost(host: LabHost): Promise<void> {
  const m = /^lnl-([a-z0-9]{1,11})-([a-z0-9]{1,6})$/.exec(host.netns);
  if (!m) throw new Error(`${host.netns} is not a lab host's namespace`);
  const [id, name] = [m[1]!, m[2]!];
  const lab = await readLabJson(id);
  if (!lab) throw new Error(`lab "${id}" is not running (no lab.json)`);
  const { prefix } = fabricAddresses(lab.fabric, 0);
  const dir = path.join(labNames(id).stateDir, name);
  // A VM keeps its MAC address across a reboot (and so the neighbours' ARP entries stay right).
  const [eth0] = JSON.parse(await run(["ip", "-n", host.netns, "-json", "link", "show", "eth0"]));
  const mac = (eth0 as { address: string }).address;
  // sshd first, while its network is still there: its clients see their connections close.
  await killNetnsProcesses([host.netns]);
  await removeLabHost(host);
  await plugHost(id, name, host.address, prefix, mac);
  const binds: Array<[string, string]> = [];
  const shadow = path.join(dir, "shadow");
  const sudoers = path.join(dir, "sudoers");
  if (await exists(shadow)) binds.push([shadow, "/etc/shadow"]);
  if (await exists(sudoers)) binds.push([sudoers, LAB_SUDOERS_FILE]);
  binds.push(await newBootId(dir));
  const configPath = path.join(dir, "sshd_config");
  startDetached(
    sshdArgv(host.netns, configPath, host.sshdDelayMs, binds),
    path.join(dir, "sshd.log"),
  );
  if (host.sshdDelayMs === 0 && !(await waitForTcp(host.address, host.port, READY_TIMEOUT_MS))) {
    throw new Error(`sshd of lab host ${name} did not come back within ${READY_TIMEOUT_MS} ms`);
  }
}

function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Runs {@link cleanupLab} for every lab that left anything behind: `lnl-*` namespaces,
 * `lnl*f` root links and state directories.
 */
export async function cleanupAllLabs(): Promise<void> {
  const dirs = await fs.readdir(LAB_STATE_ROOT).catch(() => [] as string[]);
  for (const id of labIdsIn(await listNetns(), await listRootLinks(), dirs)) await cleanupLab(id);
}

/**
 * The lab ids that namespaces (`lnl-<id>-<name>`), root links (`lnl<id>f`) and state
 * directory entries (`<id>`) belong to; other names are ignored. Pure.
 */
export function labIdsIn(netns: string[], rootLinks: string[], stateDirs: string[]): string[] {
  const ids = new Set<string>();
  for (const ns of netns) {
    const m = /^lnl-([a-z0-9]{1,11})-[a-z0-9]{1,6}$/.exec(ns);
    if (m) ids.add(m[1]);
  }
  for (const link of rootLinks) {
    const m = /^lnl([a-z0-9]{1,11})f$/.exec(link);
    if (m) ids.add(m[1]);
  }
  for (const dir of stateDirs) if (ID_RE.test(dir)) ids.add(dir);
  return [...ids].sort();
}

/** SIGTERM, then SIGKILL, everything in the namespaces; waits until they are all gone. */
async function killNetnsProcesses(namespaces: string[]): Promise<void> {
  const pidsNow = async () => (await Promise.all(namespaces.map(netnsPids))).flat();
  for (const [signal, graceMs] of [
    ["SIGTERM", 2000],
    ["SIGKILL", 3000],
  ] as const) {
    const pids = await pidsNow();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // exited meanwhile
      }
    }
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      // A zombie has no namespaces any more, so `ip netns pids` stops listing it.
      if ((await pidsNow()).length === 0) return;
      await sleep(25);
    }
  }
  const left = await pidsNow();
  if (left.length > 0) {
    throw new Error(`lab processes ${left.join(", ")} in ${namespaces.join(", ")} survive SIGKILL`);
  }
}

// ---------------------------------------------------------------------------------------
// Building

/**
 * Builds and starts a lab, after removing any leftovers of the same id. Returns once
 * every host without `sshdDelayMs` accepts TCP on port 22 (hosts with a delay are
 * returned at once, still "booting").
 *
 * Refuses, before creating anything, a fabric that overlaps any IPv4 route on the
 * machine. Transactional: when a step fails, whatever was built is removed again and the
 * error is rethrown. The sshd processes are detached, so a lab outlives the process that
 * started it until {@link Lab.teardown} or {@link cleanupLab}.
 *
 * Equivalent to (per host): `ip netns add lnl-ID-NAME`; `ip -n lnl-ID-fab link add
 * lnlpNAME type veth peer name eth0 netns lnl-ID-NAME`; `ip -n lnl-ID-NAME addr add
 * ADDR/24 dev eth0`; `ip netns exec lnl-ID-NAME unshare ... sshd -D -e -f CFG`
 */
export async function startLab(opts: StartLabOptions): Promise<Lab> {
  const id = opts.id ?? process.env.LINUXNET_LAB_ID ?? "main";
  validateId(id);
  validateSpecs(opts.hosts);
  const fabricIn = opts.fabric ?? process.env.LINUXNET_LAB_FABRIC ?? defaultFabric(id);
  const addrs = fabricAddresses(fabricIn, opts.hosts.length);
  const fabric = addrs.network;
  if (process.getuid?.() !== 0) throw new Error("startLab needs root (namespaces, links, sshd)");

  await cleanupLab(id);

  const routes = JSON.parse(await run(["ip", "-json", "-4", "route", "show", "table", "all"]));
  const clashes = overlappingRoutes(fabric, routes as Array<{ dst?: string }>);
  if (clashes.length > 0) {
    throw new Error(
      `lab fabric ${fabric} of lab "${id}" overlaps existing route(s) ${clashes.join(", ")}; ` +
        `choose another with LINUXNET_LAB_FABRIC or the fabric option`,
    );
  }

  try {
    return await buildLab(id, fabric, addrs, opts.hosts);
  } catch (e) {
    await cleanupLab(id).catch(() => undefined); // the original error matters more
    throw e;
  }
}

async function buildLab(
  id: string,
  fabric: string,
  addrs: ReturnType<typeof fabricAddresses>,
  specs: LabHostSpec[],
): Promise<Lab> {
  const names = labNames(id);
  const stateDir = names.stateDir;
  // World-traversable: sshd reads authorized_keys as the logging-in user (the sudo
  // user too). The private keys inside are 0600 files.
  await fs.mkdir(stateDir, { recursive: true, mode: 0o755 });
  await fs.chmod(LAB_STATE_ROOT, 0o755);
  await fs.chmod(stateDir, 0o755);
  // sshd's privilege-separation directory. It is the system sshd's standard location
  // and is left in place at teardown.
  await fs.mkdir("/run/sshd", { recursive: true, mode: 0o755 });

  const needSudo = specs.some((s) => s.sudoUser);
  const [userKey] = await Promise.all([
    generateKey(path.join(stateDir, "id_ed25519"), `linuxnet-lab-${id}`),
    needSudo ? ensureSudoUser() : Promise.resolve(),
  ]);
  const authorizedKeysPath = path.join(stateDir, "authorized_keys");
  await fs.writeFile(authorizedKeysPath, userKey.publicKey + "\n", { mode: 0o644 });

  // The fabric: a bridge in its own namespace, so the root namespace's iptables and
  // br_netfilter never see bridged lab traffic, and one veth into the root namespace.
  const fab = names.fabricNetns;
  await run(["ip", "netns", "add", fab]);
  await run(["ip", "-n", fab, "link", "set", "lo", "up"]);
  await run(["ip", "-n", fab, "link", "add", FABRIC_BRIDGE, "type", "bridge"]);
  await run(["ip", "-n", fab, "link", "set", FABRIC_BRIDGE, "up"]);
  await run([
    "ip",
    ...["link", "add", names.rootLink, "type", "veth"],
    ...["peer", "name", FABRIC_ROOT_PORT, "netns", fab],
  ]);
  await run(["ip", "-n", fab, "link", "set", FABRIC_ROOT_PORT, "master", FABRIC_BRIDGE, "up"]);
  await run(["ip", "addr", "add", `${addrs.gateway}/${addrs.prefix}`, "dev", names.rootLink]);
  await run(["ip", "link", "set", names.rootLink, "up"]);

  const hosts = await Promise.all(
    specs.map((spec, i) =>
      buildHost(id, spec, addrs.hosts[i], addrs.prefix, authorizedKeysPath, userKey),
    ),
  );

  const knownHostsPath = path.join(stateDir, "known_hosts");
  await fs.writeFile(knownHostsPath, hosts.map((h) => `${h.address} ${h.hostKey}\n`).join(""), {
    mode: 0o644,
  });

  const lab: Lab = {
    id,
    fabric,
    gateway: addrs.gateway,
    link: names.rootLink,
    stateDir,
    knownHostsPath,
    hosts,
    host(name: string): LabHost {
      const h = hosts.find((x) => x.name === name);
      if (!h) throw new Error(`lab "${id}" has no host "${name}"`);
      return h;
    },
    teardown: () => cleanupLab(id),
  };
  // 0600: it holds the private key.
  await fs.writeFile(path.join(stateDir, "lab.json"), JSON.stringify(labToJson(lab), null, 2), {
    mode: 0o600,
  });

  // Readiness last, all hosts at once: sshd start-up overlaps across hosts.
  await Promise.all(
    hosts
      .filter((h) => h.sshdDelayMs === 0)
      .map(async (h) => {
        if (!(await waitForTcp(h.address, h.port, READY_TIMEOUT_MS))) {
          const log = await fs
            .readFile(path.join(stateDir, h.name, "sshd.log"), "utf8")
            .catch(() => "");
          throw new Error(
            `sshd of lab host ${h.name} (${h.address}:22) did not accept TCP within ` +
              `${READY_TIMEOUT_MS} ms; sshd.log: ${log.trim() || "(empty)"}`,
          );
        }
      }),
  );
  return lab;
}

async function buildHost(
  id: string,
  spec: LabHostSpec,
  address: string,
  prefix: number,
  authorizedKeysPath: string,
  userKey: { privateKey: string; privateKeyPath: string },
): Promise<LabHost> {
  const names = labNames(id);
  const ns = names.hostNetns(spec.name);
  const dir = path.join(names.stateDir, spec.name);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });

  await plugHost(id, spec.name, address, prefix);

  const hostKey = await generateKey(
    path.join(dir, "ssh_host_ed25519_key"),
    `lnl-${id}-${spec.name}`,
  );
  const configPath = path.join(dir, "sshd_config");
  const bannerPath = spec.banner === undefined ? undefined : path.join(dir, "banner");
  if (bannerPath) await fs.writeFile(bannerPath, spec.banner!);
  const binds = [
    ...(spec.password === undefined
      ? []
      : await passwordBinds(dir, spec.password, Boolean(spec.sudoAsksPassword))),
    await newBootId(dir),
  ];
  await fs.writeFile(
    configPath,
    sshdConfig({
      address,
      hostKeyPath: hostKey.privateKeyPath,
      authorizedKeysPath,
      pidFile: path.join(dir, "sshd.pid"),
      allowSudoUser: Boolean(spec.sudoUser),
      bannerPath,
      passwordAuthentication: spec.password !== undefined,
    }),
  );
  // Catch a bad config now, with its message, rather than as a readiness timeout.
  await run([SSHD, "-t", "-f", configPath]);

  const delayMs = Math.round(spec.sshdDelayMs ?? 0);
  const patterns = (spec.without ?? []).flatMap((w) => HIDDEN_COMMANDS[w]);
  const hide = patterns.length > 0 ? { dir: path.join(dir, "sbin"), patterns } : undefined;
  startDetached(sshdArgv(ns, configPath, delayMs, binds, hide), path.join(dir, "sshd.log"));

  return {
    name: spec.name,
    netns: ns,
    address,
    port: 22,
    user: "root",
    privateKey: userKey.privateKey,
    privateKeyPath: userKey.privateKeyPath,
    hostKey: hostKey.publicKey,
    hostKeyFingerprint: hostKey.fingerprint,
    ...(spec.sudoUser ? { sudoUser: LAB_SUDO_USER } : {}),
    sshdDelayMs: delayMs,
    exec: (argv) => execInHost(ns, argv),
  };
}

/**
 * The network of a host: its namespace, `lo` up, and `eth0` on the fabric with its
 * address. The veth is created inside the fabric namespace with the peer sent straight
 * to the host, so no interface but the fabric link ever appears in the root namespace,
 * even for a moment.
 */
async function plugHost(id: string, name: string, address: string, prefix: number, mac?: string) {
  const names = labNames(id);
  const ns = names.hostNetns(name);
  const port = names.hostPort(name);
  await run(["ip", "netns", "add", ns]);
  await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
  await run([
    "ip",
    ...["-n", names.fabricNetns, "link", "add", port, "type", "veth"],
    ...["peer", "name", "eth0", ...(mac ? ["address", mac] : []), "netns", ns],
  ]);
  await run(["ip", "-n", names.fabricNetns, "link", "set", port, "master", FABRIC_BRIDGE, "up"]);
  await run(["ip", "-n", ns, "addr", "add", `${address}/${prefix}`, "dev", "eth0"]);
  await run(["ip", "-n", ns, "link", "set", "eth0", "up"]);
}

/** The kernel's id of the running boot; a lab host binds its own over it. */
export const BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id";

/**
 * A fresh boot id for a host, written to its state dir, and the bind that shows it
 * at {@link BOOT_ID_FILE} in the host's mount namespace (over its own `/proc`): every
 * lab host shares this machine's kernel, so without it they would all share one boot
 * id, and a "reboot" ({@link rebootLabHost}) could not be told from the same boot.
 */
async function newBootId(dir: string): Promise<[string, string]> {
  const file = path.join(dir, "boot_id");
  await fs.writeFile(file, `${randomUUID()}\n`, { mode: 0o444 });
  return [file, BOOT_ID_FILE];
}

/**
 * Starts a daemon that must outlive this process (the CLI exits while the lab runs):
 * its own session, output to a log file, not waited for. Plain `spawn` rather than
 * execa: execa's promise would reject later, when teardown kills the daemon.
 */
function startDetached(argv: string[], logPath: string): void {
  const fd = openSync(logPath, "a", 0o600);
  try {
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ["ignore", fd, fd] });
    child.on("error", () => undefined); // surfaces as a readiness timeout with the log
    child.unref();
  } finally {
    closeSync(fd);
  }
}

async function execInHost(ns: string, argv: string[]): Promise<ExecResult> {
  if (argv.length === 0) throw new Error("exec needs a command");
  const pid = await hostInitPid(ns);
  if (pid === undefined) throw new Error(`lab host ${ns} is not running (no init process)`);
  return runResult(["nsenter", "-t", String(pid), "-n", "-m", "-p", "--", ...argv]);
}

async function generateKey(
  privateKeyPath: string,
  comment: string,
): Promise<{ privateKey: string; privateKeyPath: string; publicKey: string; fingerprint: string }> {
  await fs.rm(privateKeyPath, { force: true });
  await fs.rm(`${privateKeyPath}.pub`, { force: true });
  await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", privateKeyPath]);
  const privateKey = await fs.readFile(privateKeyPath, "utf8");
  const [type, blob] = (await fs.readFile(`${privateKeyPath}.pub`, "utf8")).trim().split(/\s+/);
  return {
    privateKey,
    privateKeyPath,
    publicKey: `${type} ${blob}`,
    fingerprint: fingerprint(blob),
  };
}

/**
 * OpenSSH's SHA256 fingerprint of a base64 public key blob, as `ssh-keygen -l` prints
 * it (unpadded base64). Pure.
 */
export function fingerprint(base64Blob: string): string {
  const digest = createHash("sha256").update(Buffer.from(base64Blob, "base64")).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}

/**
 * The files a host with a password binds over the machine's, in its own mount
 * namespace: `/etc/shadow` with {@link LAB_SUDO_USER}'s password set (as
 * `openssl passwd -6` hashes it) and, when sudo is to ask for it, a sudoers
 * drop-in without NOPASSWD.
 */
async function passwordBinds(
  dir: string,
  password: string,
  sudoAsks: boolean,
): Promise<Array<[string, string]>> {
  const hash = (await run(["openssl", "passwd", "-6", "-stdin"], `${password}\n`)).trim();
  const shadow = (await fs.readFile("/etc/shadow", "utf8"))
    .split("\n")
    .map((line) => {
      const fields = line.split(":");
      if (fields[0] !== LAB_SUDO_USER) return line;
      fields[1] = hash;
      return fields.join(":");
    })
    .join("\n");
  const shadowPath = path.join(dir, "shadow");
  await fs.writeFile(shadowPath, shadow, { mode: 0o640 });
  const binds: Array<[string, string]> = [[shadowPath, "/etc/shadow"]];
  if (sudoAsks) {
    const sudoersPath = path.join(dir, "sudoers");
    // The log (in the host's own /run/linuxnet) lets a test count the passwords sudo was given.
    await fs.writeFile(
      sudoersPath,
      `Defaults:${LAB_SUDO_USER} logfile=/run/linuxnet/sudo.log\n${LAB_SUDO_USER} ALL=(ALL) ALL\n`,
      { mode: 0o440 },
    );
    binds.push([sudoersPath, LAB_SUDOERS_FILE]);
  }
  return binds;
}

/**
 * Creates {@link LAB_SUDO_USER} and its sudoers drop-in when missing. Both stay on the
 * machine after teardown: they are shared by all labs, cost nothing, and removing a
 * user while another lab's sshd may be serving it would be a race.
 */
async function ensureSudoUser(): Promise<void> {
  const exists = (await runResult(["id", "-u", LAB_SUDO_USER])).exitCode === 0;
  if (!exists) {
    const r = await runResult(["useradd", "-m", "-s", "/bin/bash", LAB_SUDO_USER]);
    // Two labs starting at once may race to create it.
    if (r.exitCode !== 0 && r.exitCode !== 9) {
      throw new LabCommandError(
        ["useradd", "-m", "-s", "/bin/bash", LAB_SUDO_USER],
        r.exitCode,
        r.stderr,
      );
    }
  }
  // useradd leaves the password "!" (locked), and sshd refuses locked accounts even for
  // key logins when PAM is off; "*" means "no password" without locking. Only when it is
  // not "*" yet: usermod replaces /etc/shadow by a rename, which detaches the shadow that
  // a running host with a password (passwordBinds) has bound over it, in every lab.
  const shadow = await fs.readFile("/etc/shadow", "utf8").catch(() => "");
  const entry = shadow.split("\n").find((l) => l.startsWith(`${LAB_SUDO_USER}:`));
  if (entry?.split(":")[1] !== "*") await run(["usermod", "-p", "*", LAB_SUDO_USER]);

  const content = `# pulumi-linuxnet lab hosts: see lab/labhost.ts\n${LAB_SUDO_USER} ALL=(ALL) NOPASSWD: ALL\n`;
  const current = await fs.readFile(LAB_SUDOERS_FILE, "utf8").catch(() => undefined);
  if (current === content) return;
  // Validate before installing: a broken sudoers drop-in breaks sudo for everyone.
  const tmp = `${LAB_SUDOERS_FILE}.tmp-${process.pid}`;
  await fs.writeFile(tmp, content, { mode: 0o440 });
  try {
    await run(["visudo", "-cf", tmp]);
    await fs.rename(tmp, LAB_SUDOERS_FILE);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** The JSON description of a lab (hosts without `exec`), as written to lab.json. Pure. */
export function labToJson(lab: Lab): LabJson {
  return {
    id: lab.id,
    fabric: lab.fabric,
    gateway: lab.gateway,
    link: lab.link,
    stateDir: lab.stateDir,
    knownHostsPath: lab.knownHostsPath,
    hosts: lab.hosts.map((h) => {
      // eslint-disable-next-line @typescript-eslint/no-unused-vars
      const { exec, ...rest } = h;
      return rest;
    }),
  };
}

/**
 * Reads the lab.json of a running lab, or undefined when lab `id` has no state dir.
 */
export async function readLabJson(id: string): Promise<LabJson | undefined> {
  const file = path.join(labNames(id).stateDir, "lab.json");
  const text = await fs.readFile(file, "utf8").catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as LabJson);
}

/**
 * Whether host `netns` has a running init (delay shell or sshd), and whether its sshd
 * accepts TCP now. For `cli status`.
 */
export async function hostStatus(
  host: Pick<LabHost, "netns" | "address" | "port">,
): Promise<{ running: boolean; accepting: boolean }> {
  const running = (await hostInitPid(host.netns)) !== undefined;
  const accepting = running && (await tcpAccepts(host.address, host.port, 500));
  return { running, accepting };
}

function toUint32(a: ipaddr.IPv4): number {
  return a.toByteArray().reduce((acc, b) => acc * 256 + b, 0);
}

function fromUint32(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

// ---------------------------------------------------------------------------------------
// Hosts one at a time, on a shared fabric (`linuxnet.lab.LabHost`)

/**
 * Adds one host to lab `id`: the first host makes the lab (its fabric, key and state
 * dir, as {@link startLab} does); each later one joins that fabric at the lowest free
 * address from .11. Returns once its sshd accepts TCP, or at once for a host with
 * `sshdDelayMs` (still "booting"). Hosts of one lab share its login key. Serialised per
 * lab id, within this process and across processes (a lock directory in the state root).
 */
export async function addLabHost(opts: {
  id: string;
  fabric: string;
  spec: LabHostSpec;
}): Promise<LabHostJson> {
  const { id, spec } = opts;
  validateId(id);
  validateSpecs([spec]);
  const fabric = fabricAddresses(opts.fabric, 1).network;
  if (process.getuid?.() !== 0) {
    throw new Error("a lab host needs root on this machine (namespaces, links, sshd)");
  }
  return withLabLock(id, async () => {
    const lab = await readLabJson(id);
    if (!lab) {
      const made = await startLab({ id, fabric, hosts: [spec] });
      return labToJson(made).hosts[0]!;
    }
    if (lab.fabric !== fabric) {
      throw new Error(`lab "${id}" runs on fabric ${lab.fabric}, not ${fabric}`);
    }
    const existing = lab.hosts.find((h) => h.name === spec.name);
    if (existing && (await listNetns()).includes(existing.netns)) {
      throw new Error(`lab "${id}" already has a host "${spec.name}"`);
    }
    if (existing) {
      // Removed out of band (removeLabHost): what is left of it goes, and the name is free.
      await dropHostParts(id, spec.name);
      lab.hosts = lab.hosts.filter((h) => h.name !== spec.name);
    }
    const { prefix, hosts: candidates } = fabricAddresses(fabric, maxHosts(fabric));
    const used = new Set(lab.hosts.map((h) => h.address));
    const address = candidates.find((a) => !used.has(a));
    if (!address) throw new Error(`lab fabric ${fabric} has no free address left`);
    const keyPath = path.join(lab.stateDir, "id_ed25519");
    const userKey = { privateKey: await fs.readFile(keyPath, "utf8"), privateKeyPath: keyPath };
    const authorizedKeysPath = path.join(lab.stateDir, "authorized_keys");
    if (spec.sudoUser) await ensureSudoUser();
    // A host removed from this address earlier left its MAC in this machine's neighbour
    // table: without this, the new host is unreachable until that entry times out.
    await runResult(["ip", "neigh", "del", address, "dev", labNames(id).rootLink]);
    let host: LabHost;
    try {
      host = await buildHost(id, spec, address, prefix, authorizedKeysPath, userKey);
    } catch (e) {
      await dropHostParts(id, spec.name).catch(() => undefined);
      throw e;
    }
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { exec, ...json } = host;
    await writeLabJson({ ...lab, hosts: [...lab.hosts, json] });
    if (host.sshdDelayMs === 0 && !(await waitForTcp(address, 22, READY_TIMEOUT_MS))) {
      const log = await fs
        .readFile(path.join(lab.stateDir, spec.name, "sshd.log"), "utf8")
        .catch(() => "");
      throw new Error(
        `sshd of lab host ${spec.name} (${address}:22) did not accept TCP within ${READY_TIMEOUT_MS} ms; sshd.log: ${log.trim() || "(empty)"}`,
      );
    }
    return json;
  });
}

/**
 * Removes host `name` from lab `id` (as {@link removeLabHost}, and its state); the last
 * host takes the lab (fabric, root link, state dir) with it. Idempotent.
 */
export async function dropLabHost(id: string, name: string): Promise<void> {
  validateId(id);
  await withLabLock(id, async () => {
    const lab = await readLabJson(id);
    await dropHostParts(id, name);
    const left = (lab?.hosts ?? []).filter((h) => h.name !== name);
    if (left.length === 0) await cleanupLab(id);
    else await writeLabJson({ ...lab!, hosts: left });
  });
}

/** The host `name` of lab `id` as lab.json records it, and whether it runs; undefined when there is none. */
export async function findLabHost(
  id: string,
  name: string,
): Promise<(LabHostJson & { running: boolean; bootId?: string }) | undefined> {
  const lab = await readLabJson(id);
  const host = lab?.hosts.find((h) => h.name === name);
  if (!lab || !host) return undefined;
  const running = (await listNetns()).includes(host.netns);
  const bootId = (
    await fs.readFile(path.join(lab.stateDir, name, "boot_id"), "utf8").catch(() => "")
  ).trim();
  return { ...host, running, ...(bootId ? { bootId } : {}) };
}

/**
 * The lab id of a fabric for {@link addLabHost}: `lh` and the network address in 8 hex
 * digits (`10.213.250.0/24` is `lh0ad5fa00`). Pure.
 */
export function labIdOfFabric(fabric: string): string {
  const { network } = fabricAddresses(fabric, 0);
  const hex = network
    .split("/")[0]!
    .split(".")
    .map((o) => Number(o).toString(16).padStart(2, "0"))
    .join("");
  return `lh${hex}`;
}

function maxHosts(fabric: string): number {
  const prefix = Number(fabric.split("/")[1]);
  return Math.max(0, Math.min(2 ** (32 - prefix) - FIRST_HOST_OFFSET - 1, 200));
}

async function dropHostParts(id: string, name: string): Promise<void> {
  const netns = labNames(id).hostNetns(name);
  if ((await listNetns()).includes(netns)) {
    await removeLabHost({ netns } as LabHost);
  } else {
    const port = ["ip", "-n", labNames(id).fabricNetns, "link", "del", labNames(id).hostPort(name)];
    await runResult(port);
  }
  await fs.rm(path.join(labNames(id).stateDir, name), { recursive: true, force: true });
}

async function writeLabJson(lab: LabJson): Promise<void> {
  const tmp = path.join(lab.stateDir, `lab.json.${process.pid}`);
  await fs.writeFile(tmp, JSON.stringify(lab, null, 2), { mode: 0o600 });
  await fs.rename(tmp, path.join(lab.stateDir, "lab.json"));
  await fs.writeFile(
    lab.knownHostsPath,
    lab.hosts.map((h) => `${h.address} ${h.hostKey}\n`).join(""),
    {
      mode: 0o644,
    },
  );
}

const labLocks = new Map<string, Promise<unknown>>();

/**
 * Runs `work` alone for lab `id`: after the work of this process for the same lab, and
 * holding a lock directory (`/run/linuxnet-lab/.lock-ID`) against other processes; a lock
 * older than two minutes is a crashed holder's and is taken over.
 */
async function withLabLock<T>(id: string, work: () => Promise<T>): Promise<T> {
  const before = labLocks.get(id) ?? Promise.resolve();
  const mine = before
    .catch(() => undefined)
    .then(async () => {
      await fs.mkdir(LAB_STATE_ROOT, { recursive: true, mode: 0o755 });
      const lock = path.join(LAB_STATE_ROOT, `.lock-${id}`);
      const deadline = Date.now() + 120_000;
      for (;;) {
        try {
          await fs.mkdir(lock);
          break;
        } catch {
          const age = await fs.stat(lock).then(
            (s) => Date.now() - s.mtimeMs,
            () => 0,
          );
          if (age > 120_000) await fs.rm(lock, { recursive: true, force: true });
          else if (Date.now() > deadline) throw new Error(`lab "${id}" stays locked by ${lock}`);
          else await sleep(100);
        }
      }
      try {
        return await work();
      } finally {
        await fs.rm(lock, { recursive: true, force: true });
      }
    });
  labLocks.set(id, mine);
  try {
    return await mine;
  } finally {
    if (labLocks.get(id) === mine) labLocks.delete(id);
  }
}
