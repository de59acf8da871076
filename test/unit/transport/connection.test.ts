import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type Connection,
  DEFAULT_DIAL_TIMEOUT_MS,
  connectionKey,
  fingerprintOf,
  pinnedFingerprint,
  resolveConnection,
} from "../../../provider/transport/connection";
import { labelled } from "../support";

/** A made-up ed25519 public key blob: the format ssh-keygen writes, with a fixed key. */
const KEY_BLOB = Buffer.concat([
  Buffer.from([0, 0, 0, 11]),
  Buffer.from("ssh-ed25519"),
  Buffer.from([0, 0, 0, 32]),
  Buffer.alloc(32, 7),
]);
const KEY_LINE = `ssh-ed25519 ${KEY_BLOB.toString("base64")} root@lab`;
const KEY_FINGERPRINT =
  "SHA256:" + createHash("sha256").update(KEY_BLOB).digest("base64").replace(/=+$/, "");

function resolved(raw: Record<string, unknown>): Connection {
  const { connection, failures } = resolveConnection(raw);
  expect(failures).toEqual([]);
  return connection!;
}

describe("resolveConnection", () => {
  it("applies the defaults: port 22, root, no sudo, a 20 s dial deadline, unreachable fails", () => {
    expect(resolved({ host: "10.1.0.2", privateKey: "k" })).toEqual({
      host: "10.1.0.2",
      port: 22,
      user: "root",
      privateKey: "k",
      privateKeyPassphrase: undefined,
      password: undefined,
      agentSocket: undefined,
      hostKey: undefined,
      proxy: undefined,
      sudo: false,
      sudoPassword: undefined,
      dialTimeoutMs: DEFAULT_DIAL_TIMEOUT_MS,
      deleteUnreachable: false,
    });
    expect(DEFAULT_DIAL_TIMEOUT_MS).toBe(20_000);
  });

  it("keeps every value it is given", () => {
    const c = resolved({
      host: "lab-1.example.org",
      port: 2222,
      user: "deploy",
      password: "pw",
      agentSocket: "/run/agent.sock",
      hostKey: KEY_LINE,
      sudo: true,
      dialTimeoutMs: 0,
    });
    expect(c).toMatchObject({
      host: "lab-1.example.org",
      port: 2222,
      user: "deploy",
      password: "pw",
      agentSocket: "/run/agent.sock",
      hostKey: KEY_LINE,
      sudo: true,
      dialTimeoutMs: 0,
    });
  });

  it.each(
    labelled([
      { label: "an IPv4 address", host: "192.0.2.10" },
      { label: "an IPv6 address", host: "fd00::2" },
      { label: "a DNS name", host: "lab-1.example.org" },
      { label: "a short host name", host: "lab1" },
    ]),
  )("accepts %s as the host", (_label, { host }) => {
    expect(resolved({ host }).host).toBe(host);
  });

  it.each(
    labelled([
      { label: "a missing host", raw: {}, property: "connection.host" },
      { label: "an empty host", raw: { host: "" }, property: "connection.host" },
      { label: "a host with a space", raw: { host: "a b" }, property: "connection.host" },
      {
        label: "a host that reads as an ssh option",
        raw: { host: "-oProxyCommand=reboot" },
        property: "connection.host",
      },
      {
        label: "a host with a semicolon",
        raw: { host: "10.1.0.2;reboot" },
        property: "connection.host",
      },
      { label: "a host that is a number", raw: { host: 10 }, property: "connection.host" },
      { label: "port 0", raw: { host: "h", port: 0 }, property: "connection.port" },
      { label: "port 65536", raw: { host: "h", port: 65536 }, property: "connection.port" },
      { label: "a fractional port", raw: { host: "h", port: 22.5 }, property: "connection.port" },
      { label: "a port as a string", raw: { host: "h", port: "22" }, property: "connection.port" },
      {
        label: "a user with a semicolon",
        raw: { host: "h", user: "root;reboot" },
        property: "connection.user",
      },
      {
        label: "a user that starts with a dash",
        raw: { host: "h", user: "-oX" },
        property: "connection.user",
      },
      { label: "an empty user", raw: { host: "h", user: "" }, property: "connection.user" },
      {
        label: "a private key that is not text",
        raw: { host: "h", privateKey: 1 },
        property: "connection.privateKey",
      },
      {
        label: "a password that is not text",
        raw: { host: "h", password: {} },
        property: "connection.password",
      },
      {
        label: "a passphrase that is not text",
        raw: { host: "h", privateKeyPassphrase: true },
        property: "connection.privateKeyPassphrase",
      },
      {
        label: "an agent socket that is not text",
        raw: { host: "h", agentSocket: 3 },
        property: "connection.agentSocket",
      },
      {
        label: "a host key that is neither a key nor a fingerprint",
        raw: { host: "h", hostKey: "trust-me" },
        property: "connection.hostKey",
      },
      {
        label: "a key line without its key",
        raw: { host: "h", hostKey: "ssh-ed25519" },
        property: "connection.hostKey",
      },
      // A pin that can never match should fail in check, not as a "host key mismatch" at create.
      {
        label: "a key line whose blob is not a key",
        raw: { host: "h", hostKey: "ssh-ed25519 notakey" },
        property: "connection.hostKey",
      },
      {
        label: "a key line whose blob is of another type",
        raw: { host: "h", hostKey: `ssh-rsa ${KEY_BLOB.toString("base64")}` },
        property: "connection.hostKey",
      },
      {
        label: "a fingerprint of the wrong length",
        raw: { host: "h", hostKey: "SHA256:abc" },
        property: "connection.hostKey",
      },
      { label: "sudo as a string", raw: { host: "h", sudo: "yes" }, property: "connection.sudo" },
      {
        label: "a negative dial timeout",
        raw: { host: "h", dialTimeoutMs: -1 },
        property: "connection.dialTimeoutMs",
      },
      {
        label: "a dial timeout over an hour",
        raw: { host: "h", dialTimeoutMs: 3_600_001 },
        property: "connection.dialTimeoutMs",
      },
      {
        label: "a NaN dial timeout",
        raw: { host: "h", dialTimeoutMs: NaN },
        property: "connection.dialTimeoutMs",
      },
      {
        label: "a proxy that is not an object",
        raw: { host: "h", proxy: "jump" },
        property: "connection.proxy",
      },
    ]),
  )("refuses %s, naming the field", (_label, { raw, property }) => {
    const { connection, failures } = resolveConnection(raw);
    expect(connection).toBeUndefined();
    expect(failures).toHaveLength(1);
    expect(failures[0]!.property).toBe(property);
    expect(failures[0]!.reason).not.toBe("");
  });

  it("names fields under the prefix it is given", () => {
    const { failures } = resolveConnection({ host: "h", port: 0 }, "defaults");
    expect(failures.map((f) => f.property)).toEqual(["defaults.port"]);
  });

  it("resolves a jump host with its own defaults", () => {
    const c = resolved({
      host: "10.1.0.3",
      privateKey: "k",
      proxy: { host: "10.1.0.1", user: "jump", port: 2200, password: "pw" },
    });
    expect(c.proxy).toMatchObject({
      host: "10.1.0.1",
      user: "jump",
      port: 2200,
      password: "pw",
      sudo: false,
    });
    expect(c.proxy!.dialTimeoutMs).toBe(DEFAULT_DIAL_TIMEOUT_MS);
    expect(c.proxy!.proxy).toBeUndefined();
  });

  it("treats a null proxy as none", () => {
    expect(resolved({ host: "h", proxy: null }).proxy).toBeUndefined();
  });

  it("names a jump host's bad field under connection.proxy", () => {
    const { connection, failures } = resolveConnection({
      host: "h",
      proxy: { host: "j", port: -1 },
    });
    expect(connection).toBeUndefined();
    expect(failures.map((f) => f.property)).toEqual(["connection.proxy.port"]);
  });

  it("takes a chain of jump hosts, the innermost dialled first, and names a bad field deep in it", () => {
    const chain = resolveConnection({ host: "t", proxy: { host: "j2", proxy: { host: "j1" } } });
    expect(chain.failures).toEqual([]);
    expect(chain.connection?.proxy?.host).toBe("j2");
    expect(chain.connection?.proxy?.proxy?.host).toBe("j1");
    const bad = resolveConnection({
      host: "t",
      proxy: { host: "j2", proxy: { host: "j1", port: 0 } },
    });
    expect(bad.failures.map((f) => f.property)).toEqual(["connection.proxy.proxy.port"]);
  });

  it("takes a sudo password as meaning sudo, and refuses one that contradicts or cannot be typed", () => {
    expect(resolveConnection({ host: "h", user: "u", sudoPassword: "pw" }).connection?.sudo).toBe(
      true,
    );
    const failures = (raw: Record<string, unknown>) =>
      resolveConnection({ host: "h", user: "u", ...raw }).failures;
    expect(failures({ sudo: false, sudoPassword: "pw" })).toEqual([
      {
        property: "connection.sudoPassword",
        reason: "is given but sudo is false; set sudo: true or drop the password",
      },
    ]);
    expect(failures({ sudoPassword: "" })).toEqual([
      { property: "connection.sudoPassword", reason: "must not be empty" },
    ]);
    expect(failures({ sudoPassword: "a\nrm -rf /" })).toEqual([
      { property: "connection.sudoPassword", reason: "must be one line (no line breaks)" },
    ]);
    expect(failures({ deleteUnreachable: "yes" })).toEqual([
      { property: "connection.deleteUnreachable", reason: "must be true or false" },
    ]);
  });

  it("never echoes a sudo password in a failure", () => {
    const { failures } = resolveConnection({ host: "h", sudoPassword: "hunter2\nx", sudo: 3 });
    expect(JSON.stringify(failures)).not.toContain("hunter2");
  });
});

describe("pinnedFingerprint", () => {
  it("hashes a key line to the fingerprint of its blob", () => {
    expect(pinnedFingerprint(KEY_LINE)).toBe(fingerprintOf(KEY_BLOB));
    expect(pinnedFingerprint(KEY_LINE)).toBe(KEY_FINGERPRINT);
  });

  it("hashes a key line without a comment the same way", () => {
    expect(pinnedFingerprint(`ssh-ed25519 ${KEY_BLOB.toString("base64")}`)).toBe(
      fingerprintOf(KEY_BLOB),
    );
  });

  it.each(
    labelled([
      { label: "as it is", pin: KEY_FINGERPRINT },
      { label: "with base64 padding", pin: `${KEY_FINGERPRINT}=` },
    ]),
  )("takes a fingerprint %s", (_label, { pin }) => {
    expect(pinnedFingerprint(pin)).toBe(KEY_FINGERPRINT);
  });

  it("is accepted by resolveConnection in both forms", () => {
    expect(resolved({ host: "h", hostKey: KEY_LINE }).hostKey).toBe(KEY_LINE);
    expect(resolved({ host: "h", hostKey: KEY_FINGERPRINT }).hostKey).toBe(KEY_FINGERPRINT);
  });
});

describe("fingerprintOf", () => {
  it("writes SHA256: and unpadded base64, as ssh-keygen -l does", () => {
    expect(fingerprintOf(Buffer.from(""))).toBe(
      "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
    );
  });
});

describe("connectionKey", () => {
  const base = resolved({
    host: "10.1.0.2",
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nsecretkeytext\n",
  });

  it("names who logs in where", () => {
    expect(connectionKey(base)).toMatch(/^root@10\.1\.0\.2:22#[0-9a-f]{16}$/);
  });

  it.each(
    labelled([
      {
        label: "another private key",
        change: { privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\notherkeytext\n" },
      },
      { label: "a passphrase", change: { privateKeyPassphrase: "passphrase-text" } },
      { label: "a password", change: { password: "password-text" } },
      { label: "an agent socket", change: { agentSocket: "/run/agent.sock" } },
      { label: "another user", change: { user: "deploy" } },
      { label: "another port", change: { port: 2222 } },
      { label: "sudo", change: { sudo: true } },
      { label: "another host", change: { host: "10.1.0.3" } },
      { label: "a jump host", change: { proxy: resolved({ host: "10.1.0.1", privateKey: "k" }) } },
      // A session opened without a pin (or with another pin) must not serve a resource that pins a key.
      { label: "a pinned host key", change: { hostKey: KEY_FINGERPRINT } },
    ]),
  )("differs with %s", (_label, { change }) => {
    expect(connectionKey({ ...base, ...change })).not.toBe(connectionKey(base));
  });

  it("is equal for equal connections", () => {
    expect(connectionKey({ ...base })).toBe(connectionKey(base));
  });

  it.each(
    labelled([
      { label: "a private key", c: base, secret: "secretkeytext" },
      {
        label: "a passphrase",
        c: { ...base, privateKeyPassphrase: "passphrase-text" },
        secret: "passphrase-text",
      },
      { label: "a password", c: { ...base, password: "password-text" }, secret: "password-text" },
      {
        label: "a jump host's password",
        c: { ...base, proxy: resolved({ host: "10.1.0.1", password: "jump-password" }) },
        secret: "jump-password",
      },
    ]),
  )("never contains the text of %s", (_label, { c, secret }) => {
    expect(connectionKey(c)).not.toContain(secret);
  });
});
