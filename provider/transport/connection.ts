/**
 * How to reach one host: the public `ConnectionArgs` and its resolved,
 * validated form. No SSH happens here.
 */

import type { Input } from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import type { ValidationFailure } from "../errors";

/**
 * How to reach one host over SSH. Every resource takes one (or the stack's
 * default, from the `linuxnet:*` config).
 *
 * Where to connect is stored with each resource, so that refresh and delete
 * reach the host the object was made on. A changed `host` therefore replaces
 * the resource (its object lives on the old host), except a
 * {@link ConnectivityCheck}, which has no object and updates. Any other
 * change (a rotated key, another user, a pinned host key) updates in place:
 * only the stored connection changes; nothing on the host is recreated.
 * Credentials given here are stored as secrets.
 *
 * @example
 * ```ts
 * const connection = { host: vm.publicIp, user: "admin", sudo: true, privateKey: key };
 * ```
 */
export interface ConnectionArgs {
  /**
   * Address or DNS name of the host: `"10.1.0.2"`, `"lab1.example.net"`,
   * `"fd00::2"`. Required. Changing it replaces the resource (see above).
   */
  host: Input<string>;
  /** SSH port, 1 to 65535; 22 when omitted. Updates in place: `2222`. */
  port?: Input<number>;
  /**
   * Login user; `"root"` when omitted. A non-root user also needs
   * `sudo: true`, since the kernel changes need root. Updates in place: `"admin"`.
   */
  user?: Input<string>;
  /**
   * Private key text (OpenSSH or PEM, not a file path); none when omitted.
   * Pass it as a secret (`cfg.requireSecret("key")`); it is stored as one
   * either way. Updates in place, so a rotated key replaces nothing.
   */
  privateKey?: Input<string>;
  /**
   * Passphrase of an encrypted `privateKey`, `cfg.requireSecret("keyPassphrase")`;
   * none when omitted. Stored as a secret; updates in place.
   */
  privateKeyPassphrase?: Input<string>;
  /**
   * Password authentication, `cfg.requireSecret("sshPassword")`; none when
   * omitted. Stored as a secret; updates in place.
   */
  password?: Input<string>;
  /**
   * An ssh-agent socket: `"/run/user/1000/ssh-agent.sock"`. When omitted, and
   * neither `privateKey` nor `password` is given, the `SSH_AUTH_SOCK` of the
   * process that runs `pulumi up`. Updates in place.
   */
  agentSocket?: Input<string>;
  /**
   * The host's public key (`"ssh-ed25519 AAAA..."`) or its fingerprint
   * (`"SHA256:..."`). When set, any other key is refused, with both
   * fingerprints in the error. When unset, any key is accepted (as `ssh -o
   * StrictHostKeyChecking=no` would) and every resource reports the one it
   * saw as its `hostKeyFingerprint` output: check it, then pin it. Updates in place.
   */
  hostKey?: Input<string>;
  /**
   * A jump host to connect through (`ssh -J`), itself a connection:
   * `{ host: "bastion.example.net", privateKey }`. None when omitted. A chain
   * of jump hosts is a proxy with a proxy of its own (`ssh -J a,b` is
   * `{ host: b, proxy: { host: a } }`: the innermost is dialled first), at most
   * 8 deep. Updates in place: the objects stay on `host`,
   * only the way there changes.
   */
  proxy?: Input<ConnectionArgs>;
  /**
   * Run every command through `sudo` (for a non-root `user`): `true`. False
   * when omitted, unless `sudoPassword` is given. Without a `sudoPassword`,
   * sudo must not ask for one (`sudo -n`, a NOPASSWD rule). Updates in place.
   */
  sudo?: Input<boolean>;
  /**
   * The password `sudo` asks for, `cfg.requireSecret("sudoPassword")`; implies
   * `sudo: true`. It is written to sudo's own prompt on the shell's input only
   * when sudo asks (`sudo -S` with a prompt of ours), never in a command line,
   * a log or an error; stored as a secret. None when omitted. Updates in place.
   */
  sudoPassword?: Input<string>;
  /**
   * Keep retrying the dial this long, in milliseconds, while the host boots
   * (a VM created in the same `pulumi up`); 20000 when omitted, at most
   * 3600000. Updates in place: `120000`.
   */
  dialTimeoutMs?: Input<number>;
  /**
   * When the host cannot be reached within `dialTimeoutMs` (a VM that was
   * deleted), `pulumi destroy` and `pulumi refresh` treat its objects as gone
   * and say so in a warning, instead of failing: `true`. False when omitted,
   * so a host that is down for a while is never forgotten by accident.
   * Updates in place. To tie objects to the VM that carries them, Pulumi's
   * own `deletedWith: vm` is usually the better answer (see the README).
   */
  deleteUnreachable?: Input<boolean>;
}

/** How many jump hosts a connection may chain, proxy inside proxy. */
export const MAX_JUMP_HOSTS = 8;

/** A connection with every input known and defaults applied. */
export interface Connection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly privateKey?: string;
  readonly privateKeyPassphrase?: string;
  readonly password?: string;
  readonly agentSocket?: string;
  readonly hostKey?: string;
  readonly proxy?: Connection;
  readonly sudo: boolean;
  readonly sudoPassword?: string;
  readonly dialTimeoutMs: number;
  readonly deleteUnreachable: boolean;
}

/** The dial deadline when none is given: long enough for sshd to come up on a booting VM. */
export const DEFAULT_DIAL_TIMEOUT_MS = 20_000;

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/;

/**
 * Checks a connection's plain values and applies defaults. Unknown values (a
 * preview before the VM's address exists) are left to the caller: pass only
 * known objects here.
 */
export function resolveConnection(
  raw: Record<string, unknown>,
  field = "connection",
  depth = 0,
): { connection?: Connection; failures: ValidationFailure[] } {
  const failures: ValidationFailure[] = [];
  const fail = (property: string, reason: string) =>
    failures.push({ property: `${field}.${property}`, reason });

  const host = raw.host;
  if (typeof host !== "string" || host.length === 0) {
    fail("host", "is required: an address or DNS name");
  } else if (!HOSTNAME.test(host) && !isIpLiteral(host)) {
    fail("host", `must be an IP address or a DNS name, got ${JSON.stringify(host)}`);
  }
  const port = raw.port ?? 22;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    // String() for a number: JSON would print NaN as null.
    fail(
      "port",
      `must be an integer from 1 to 65535, got ${typeof port === "number" ? String(port) : JSON.stringify(port)}`,
    );
  }
  const user = raw.user ?? "root";
  if (typeof user !== "string" || !/^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(user)) {
    fail("user", `must be a login name, got ${JSON.stringify(user)}`);
  }
  for (const key of [
    "privateKey",
    "privateKeyPassphrase",
    "password",
    "agentSocket",
    "hostKey",
    "sudoPassword",
  ]) {
    if (raw[key] !== undefined && typeof raw[key] !== "string") fail(key, "must be a string");
  }
  if (typeof raw.hostKey === "string" && !isHostKeyForm(raw.hostKey)) {
    fail(
      "hostKey",
      'must be a public key line ("ssh-ed25519 AAAA...") or a "SHA256:..." fingerprint',
    );
  }
  const sudo = raw.sudo ?? raw.sudoPassword !== undefined;
  if (typeof sudo !== "boolean") fail("sudo", "must be true or false");
  if (sudo === false && raw.sudoPassword !== undefined) {
    fail("sudoPassword", "is given but sudo is false; set sudo: true or drop the password");
  }
  if (raw.sudoPassword === "") fail("sudoPassword", "must not be empty");
  if (typeof raw.sudoPassword === "string" && /[\r\n]/.test(raw.sudoPassword)) {
    // sudo reads one line: a line break would end the password early and leave the rest to the shell.
    fail("sudoPassword", "must be one line (no line breaks)");
  }
  const deleteUnreachable = raw.deleteUnreachable ?? false;
  if (typeof deleteUnreachable !== "boolean") fail("deleteUnreachable", "must be true or false");
  const dialTimeoutMs = raw.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
  if (typeof dialTimeoutMs !== "number" || !(dialTimeoutMs >= 0) || dialTimeoutMs > 3_600_000) {
    fail("dialTimeoutMs", "must be a number of milliseconds from 0 to 3600000");
  }
  let proxy: Connection | undefined;
  if (raw.proxy !== undefined && raw.proxy !== null) {
    if (typeof raw.proxy !== "object") {
      fail("proxy", "must be a connection object");
    } else if (depth + 1 > MAX_JUMP_HOSTS) {
      fail("proxy", `chains more than ${MAX_JUMP_HOSTS} jump hosts`);
    } else {
      const nested = resolveConnection(
        raw.proxy as Record<string, unknown>,
        `${field}.proxy`,
        depth + 1,
      );
      failures.push(...nested.failures);
      proxy = nested.connection;
    }
  }
  if (failures.length > 0) return { failures };
  return {
    failures,
    connection: {
      host: host as string,
      port: port as number,
      user: user as string,
      privateKey: raw.privateKey as string | undefined,
      privateKeyPassphrase: raw.privateKeyPassphrase as string | undefined,
      password: raw.password as string | undefined,
      agentSocket: raw.agentSocket as string | undefined,
      hostKey: raw.hostKey as string | undefined,
      proxy,
      sudo: sudo as boolean,
      sudoPassword: raw.sudoPassword as string | undefined,
      dialTimeoutMs: dialTimeoutMs as number,
      deleteUnreachable: deleteUnreachable as boolean,
    },
  };
}

function isIpLiteral(host: string): boolean {
  return /^[0-9a-fA-F:.]+$/.test(host) && host.includes(":");
}

function isHostKeyForm(value: string): boolean {
  if (/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(value)) return true;
  const m = /^([a-z0-9@.-]+) ([A-Za-z0-9+/]+={0,2})( .*)?$/.exec(value);
  if (!m) return false;
  // The blob starts with its own key type (a length-prefixed string): it must be the one the line names.
  const blob = Buffer.from(m[2]!, "base64");
  if (blob.length < 4) return false;
  const length = blob.readUInt32BE(0);
  return (
    length > 0 &&
    blob.length >= 4 + length &&
    blob.subarray(4, 4 + length).toString("latin1") === m[1]
  );
}

/** `SHA256:...` of a raw public key blob, as `ssh-keygen -l` prints it. */
export function fingerprintOf(keyBlob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "");
}

/** The fingerprint a pinned `hostKey` stands for (a key line is hashed; a fingerprint is itself). */
export function pinnedFingerprint(hostKey: string): string {
  if (hostKey.startsWith("SHA256:")) return hostKey.replace(/=+$/, "");
  return fingerprintOf(Buffer.from(hostKey.split(" ")[1] ?? "", "base64"));
}

/**
 * A key that identifies the SSH session a connection makes (who logs in where,
 * and how), so that resources with equal connections share one. Credentials are
 * hashed, never kept in the key.
 */
export function connectionKey(c: Connection): string {
  const secret = createHash("sha256")
    .update(
      JSON.stringify([
        c.privateKey,
        c.privateKeyPassphrase,
        c.password,
        c.agentSocket,
        c.sudoPassword,
      ]),
    )
    .digest("hex")
    .slice(0, 16);
  const via = c.proxy ? ` via ${connectionKey(c.proxy)}` : "";
  // A pinned key is part of the identity: a session opened unchecked must never serve a pinned resource.
  const pin = c.hostKey ? ` pin ${pinnedFingerprint(c.hostKey)}` : "";
  return `${c.user}@${c.host}:${c.port}${c.sudo ? "+sudo" : ""}#${secret}${pin}${via}`;
}
