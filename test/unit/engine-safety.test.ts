/**
 * What the engine can carry, for generated inputs of every kind. The unit
 * tests of each kind call `check` directly and never see what the SDK's
 * dynamic-provider process does with the answer: it turns check's inputs,
 * outputs and read's properties into protobuf `Struct`s with
 * `Struct.fromJavaScript`, which throws "Unexpected struct type." on an
 * `undefined` anywhere (issue 9: a Route with a device and no gateway). Here
 * the runtime's `handler(kind)` methods that need no host (`check`, `diff`)
 * get many generated inputs (valid, invalid, hostile, with the engine's
 * unknown placeholder anywhere, with secret wrappers), and every answer is
 * sent the way the SDK sends it (cmd/dynamic-provider/index.js): through
 * `Struct.fromJavaScript` into a `CheckResponse` or `DiffResponse`, serialized
 * and read back. Outputs of create, update and read are pushed through the
 * same function the runtime sends them through; read runs against a stub
 * reader that answers from generated facts and runs no command.
 */

import fc from "fast-check";
import ipaddr from "ipaddr.js";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { describe, expect, it } from "vitest";
import { type KindName, handler, interrupted, kinds } from "../../provider/runtime";
import { structSafe } from "../../provider/struct";
import { TransportError } from "../../provider/errors";
import type { BaseInputs, Kind } from "../../provider/resources/kind";
import type {
  FdbEntry,
  HostReader,
  LinkFacts,
  QdiscEntry,
  RouteEntry,
} from "../../provider/host/reader";
import type { TaggedRule } from "../../provider/host/iptables";
import type { NftTableState } from "../../provider/host/nftables";
import { transportStats } from "../../provider/transport";
import { PROVIDER_KEY, UNKNOWN, containsNonFinite, containsUndefined } from "./support";

type Props = Record<string, unknown>;
type Path = readonly (string | number)[];

const NAMES = Object.keys(kinds) as KindName[];

/** The SDK's marker of a secret value on the wire (runtime/rpc.js: specialSigKey, specialSecretSig). */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const secret = (value: unknown) => ({ [SIG_KEY]: SECRET_SIG, value });

/**
 * Enough runs to meet every optional field both ways, few enough to keep this
 * file near a few seconds; LINUXNET_PROPERTY_RUNS=5000 digs deeper.
 */
const RUNS = Number(process.env.LINUXNET_PROPERTY_RUNS ?? 150);
/** Each property's time limit grows with the runs asked for. */
const TIMEOUT = Math.max(5_000, RUNS * 20);

/** The input fields each kind takes: a failure must name one of them (or a path inside one). */
const FIELDS: Record<KindName, readonly string[]> = {
  Namespace: ["connection", "resourceName", "name", "loopbackUp", "adopt"],
  Bridge: [
    "connection",
    "resourceName",
    "name",
    "namespace",
    "addresses",
    "mtu",
    "up",
    "acceptForwarding",
    "firewall",
    "adopt",
  ],
  VethPair: ["connection", "resourceName", "a", "b", "mtu", "adopt"],
  Route: [
    "connection",
    "resourceName",
    "namespace",
    "destination",
    "via",
    "device",
    "metric",
    "table",
    "adopt",
  ],
  NatRule: [
    "connection",
    "resourceName",
    "namespace",
    "source",
    "outInterface",
    "forwarding",
    "firewall",
  ],
  ConnectivityCheck: ["connection", "resourceName", "from", "to", "port", "protocol"],
  Sysctl: ["connection", "resourceName", "namespace", "key", "value"],
  PortForward: [
    "connection",
    "resourceName",
    "namespace",
    "protocol",
    "hostPort",
    "to",
    "inInterface",
    "fromHost",
    "forwarding",
    "firewall",
  ],
  Vxlan: [
    "connection",
    "resourceName",
    "name",
    "vni",
    "remotes",
    "group",
    "local",
    "device",
    "port",
    "bridge",
    "namespace",
    "mtu",
    "addresses",
    "adopt",
  ],
  LinkShaping: [
    "connection",
    "resourceName",
    "namespace",
    "device",
    "rate",
    "delay",
    "jitter",
    "loss",
    "duplicate",
    "reorder",
  ],
};

// ---------------------------------------------------------------------------
// Realistic values

/** A `firewall` input: each choice, and omitted (the default, `auto`). */
const firewallChoice = fc.constantFrom("auto", "iptables", "nftables");

const ifName = fc
  .stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/)
  .filter((n) => Buffer.byteLength(n) <= 15);
const nsName = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}$/);
const octet = fc.integer({ min: 0, max: 255 });

/** A host address in an IPv4 subnet: never the network, broadcast, unspecified or multicast address. */
const v4InterfaceAddress = fc.oneof(
  fc
    .tuple(fc.integer({ min: 1, max: 223 }), octet, octet, fc.integer({ min: 1, max: 254 }))
    .chain(([a, b, c, d]) =>
      fc.integer({ min: 8, max: 24 }).map((p) => `${a}.${b}.${c}.${d}/${p}`),
    ),
  fc
    .tuple(fc.integer({ min: 1, max: 223 }), octet, octet, octet, fc.constantFrom(31, 32))
    .map(([a, b, c, d, p]) => `${a}.${b}.${c}.${d}/${p}`),
);
const v6InterfaceAddress = fc
  .tuple(fc.ipV6(), fc.integer({ min: 1, max: 128 }))
  .filter(([a]) => !["unspecified", "multicast"].includes(ipaddr.parse(a).range()))
  .map(([a, p]) => `${a}/${p}`);
const interfaceAddress = fc.oneof(v4InterfaceAddress, v6InterfaceAddress);
const addressList = fc.uniqueArray(interfaceAddress, {
  maxLength: 4,
  selector: (a) => ipaddr.parse(a.split("/")[0]!).toString(),
});

function networkOf(address: string, prefix: number): string {
  return `${ipaddr.parse(address).kind() === "ipv4" ? ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefix}`) : ipaddr.IPv6.networkAddressFromCIDR(`${address}/${prefix}`)}/${prefix}`;
}
const v4Network = fc
  .tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }))
  .map(([a, p]) => networkOf(a, p));
const v6Network = fc
  .tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }))
  .map(([a, p]) => networkOf(a, p));
const usable = (a: string) => ipaddr.parse(a).range() !== "unspecified";
const v4Gateway = fc.ipV4().filter(usable);
const v6Gateway = fc.ipV6().filter(usable);
const v4Plain = fc.ipV4();

const connection: fc.Arbitrary<Props> = fc
  .record(
    {
      host: fc.oneof(
        fc.ipV4(),
        fc.ipV6().filter((a) => a.includes(":")),
        fc.domain(),
      ),
      port: fc.integer({ min: 1, max: 65535 }),
      user: fc.stringMatching(/^[a-z_][a-z0-9_.-]{0,31}$/),
      privateKey: fc.string({ minLength: 1 }),
      password: fc.string(),
      agentSocket: fc.constant("/run/ssh-agent.sock"),
      hostKey: fc
        .uint8Array({ minLength: 32, maxLength: 32 })
        .map((b) => `SHA256:${Buffer.from(b).toString("base64").replace(/=+$/, "")}`),
      sudo: fc.boolean(),
      sudoPassword: fc.string({ minLength: 1 }).filter((p) => !/[\r\n]/.test(p)),
      dialTimeoutMs: fc.integer({ min: 0, max: 3_600_000 }),
      deleteUnreachable: fc.boolean(),
      proxy: fc.record(
        {
          host: fc.ipV4(),
          port: fc.integer({ min: 1, max: 65535 }),
          // A chain: the jump host's own jump host.
          proxy: fc.record({ host: fc.ipV4() }),
        },
        {
          requiredKeys: ["host"],
        },
      ),
      credentials: fc.constant("stack-config"),
    },
    { requiredKeys: ["host"] },
    // A sudo password means sudo: with sudo false it is refused, so it goes.
  )
  .map(({ sudoPassword, ...rest }) =>
    rest.sudo === false || sudoPassword === undefined ? rest : { ...rest, sudoPassword },
  );
const resourceName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,30}$/);

const vethEnd = fc.record(
  {
    name: ifName,
    namespace: nsName,
    bridge: ifName,
    addresses: addressList,
    up: fc.boolean(),
  },
  { requiredKeys: [] },
);

/** A unicast IPv4 address a VXLAN peer can have. */
const v4Unicast = fc
  .ipV4()
  .filter((a) => !["unspecified", "multicast", "broadcast"].includes(ipaddr.parse(a).range()));
const v4Multicast = fc
  .tuple(fc.integer({ min: 224, max: 239 }), octet, octet, octet)
  .map((o) => o.join("."));
/** Rates as a user writes them: common spellings, and any whole number of bytes per second. */
const shapingRate = fc.oneof(
  fc.constantFrom("10mbit", "1gbit", "500kbit", "1.5mbit", "125kbps", "64kibit", "10tbit", "8bit"),
  fc.integer({ min: 1, max: 1_250_000_000_000 }).map((bytes) => `${bytes * 8}bit`),
);
/** Times as a user writes them, up to an hour. */
const shapingTime = fc.oneof(
  fc.constantFrom("40ms", "1s", "500us", "0ms", "1.5ms", "2sec", "3600s"),
  fc.integer({ min: 0, max: 3_600_000_000 }).map((us) => `${us}us`),
);
const percentValue = fc.oneof(
  fc.constantFrom(0, 0.5, 1, 25, 100),
  fc.double({ min: 0, max: 100, noNaN: true }).map(Math.abs),
);

const endpoint = fc.record({ namespace: nsName, address: v4Plain }, { requiredKeys: [] });

/** A sysctl key: real ones in both spellings, and made-up ones of valid segments. */
const sysctlSegment = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_-]{0,20}$/);
const sysctlKey = fc.oneof(
  fc.constantFrom(
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.eth0/100.rp_filter",
    "net/ipv4/conf/eth0.100/rp_filter",
    "net.ipv4.ping_group_range",
    "kernel.core_pattern",
    "vm/swappiness",
  ),
  fc
    .tuple(
      fc.constantFrom("net", "kernel", "vm", "fs"),
      fc.array(sysctlSegment, { minLength: 1, maxLength: 5 }),
      fc.constantFrom(".", "/"),
    )
    .map(([top, rest, sep]) => [top, ...rest].join(sep)),
);
/** A value: printable ASCII and tabs, not only white space. */
const sysctlValue = fc.stringMatching(/^[ -~\t]{1,40}$/).filter((v) => v.trim().length > 0);
/** A usable DNAT target address (not unspecified, loopback, multicast or broadcast). */
const targetAddress = fc
  .ipV4()
  .filter(
    (a) => !["unspecified", "loopback", "multicast", "broadcast"].includes(ipaddr.parse(a).range()),
  );

/** Valid inputs for each kind, every optional field present in some and absent in others. */
const VALID: Record<KindName, fc.Arbitrary<Props>> = {
  Namespace: fc.record(
    { name: nsName, loopbackUp: fc.boolean(), adopt: fc.boolean() },
    { requiredKeys: [] },
  ),
  Bridge: fc.record(
    {
      name: ifName,
      namespace: nsName,
      addresses: addressList,
      mtu: fc.integer({ min: 68, max: 65535 }),
      up: fc.boolean(),
      acceptForwarding: fc.boolean(),
      firewall: firewallChoice,
      adopt: fc.boolean(),
    },
    { requiredKeys: [] },
  ),
  VethPair: fc
    .record(
      {
        a: vethEnd,
        b: vethEnd,
        mtu: fc.integer({ min: 68, max: 65535 }),
        adopt: fc.boolean(),
      },
      { requiredKeys: ["a", "b"] },
    )
    .filter(
      ({ a, b }) =>
        (a as Props).name === undefined ||
        (a as Props).name !== (b as Props).name ||
        ((a as Props).namespace ?? "") !== ((b as Props).namespace ?? ""),
    ),
  Route: fc
    .tuple(
      fc.oneof(
        fc.record({ destination: fc.oneof(v4Network, fc.constant("default")), via: v4Gateway }),
        fc.record({ destination: fc.oneof(v6Network, fc.constant("default")), via: v6Gateway }),
      ),
      fc.record(
        {
          namespace: nsName,
          device: ifName,
          metric: fc.oneof(
            fc.constantFrom(0, 100, 1024, 4294967295),
            fc.bigInt(0n, 4294967295n).map(Number),
          ),
          table: fc.oneof(
            fc.constantFrom("main", "local", "default"),
            fc.integer({ min: 1, max: 252 }).map(String),
            fc.bigInt(256n, 4294967295n).map(String),
          ),
          adopt: fc.boolean(),
        },
        { requiredKeys: [] },
      ),
      fc.constantFrom("via", "device", "both"),
    )
    .map(([dest, rest, hop]) => {
      const out: Props = { ...dest, ...rest };
      if (hop === "device") {
        delete out.via;
        out.device = rest.device ?? "eth0";
      } else if (hop === "via") {
        delete out.device;
      }
      return out;
    }),
  NatRule: fc.record(
    {
      namespace: nsName,
      source: v4Network,
      outInterface: ifName,
      forwarding: fc.boolean(),
      firewall: firewallChoice,
    },
    { requiredKeys: ["source"] },
  ),
  ConnectivityCheck: fc
    .record(
      {
        from: endpoint,
        to: fc.oneof(
          endpoint.filter((e) => e.namespace !== undefined || e.address !== undefined),
          // On another host: its connection, with the address it holds (required then).
          fc.record(
            { namespace: nsName, address: v4Plain, connection },
            { requiredKeys: ["address", "connection"] },
          ),
        ),
        port: fc.integer({ min: 1, max: 65535 }),
        protocol: fc.constantFrom("icmp", "tcp"),
      },
      { requiredKeys: ["to"] },
    )
    .filter((c) => c.protocol !== "tcp" || c.port !== undefined),
  Sysctl: fc
    .record(
      { namespace: nsName, key: sysctlKey, value: sysctlValue },
      { requiredKeys: ["key", "value"] },
    )
    // Inside a namespace, only net.* keys.
    .map((s) => (String(s.key).startsWith("net") ? s : { key: s.key, value: s.value })),
  PortForward: fc
    .tuple(
      fc.record(
        {
          namespace: nsName,
          protocol: fc.constantFrom("tcp", "udp"),
          inInterface: ifName,
          fromHost: fc.boolean(),
          forwarding: fc.boolean(),
          firewall: firewallChoice,
        },
        { requiredKeys: [] },
      ),
      fc.integer({ min: 1, max: 65535 }),
      fc.integer({ min: 0, max: 100 }),
      fc.constantFrom("number", "string", "range"),
      targetAddress,
      fc.integer({ min: 1, max: 65535 }),
    )
    .map(([rest, first, extra, form, address, toPort]) => {
      const last = Math.min(65535, first + (form === "range" ? extra : 0));
      const hostPort =
        form === "number" ? first : form === "string" ? String(first) : `${first}-${last}`;
      const port = Math.min(toPort, 65535 - (last - first));
      return { ...rest, hostPort, to: `${address}:${port}` };
    }),
  Vxlan: fc
    .tuple(
      fc.record(
        {
          name: ifName,
          vni: fc.oneof(fc.constantFrom(1, 42, 16777215), fc.integer({ min: 1, max: 16777215 })),
          local: v4Unicast,
          device: ifName,
          port: fc.integer({ min: 1, max: 65535 }),
          bridge: ifName,
          namespace: nsName,
          mtu: fc.integer({ min: 68, max: 65535 }),
          addresses: addressList,
          adopt: fc.boolean(),
        },
        { requiredKeys: ["vni"] },
      ),
      fc.oneof(
        fc.record({ remotes: fc.uniqueArray(v4Unicast, { maxLength: 4 }) }, { requiredKeys: [] }),
        fc.record({ group: v4Multicast, device: ifName }),
      ),
    )
    .map(([rest, peers]) => ({ ...rest, ...peers }))
    .filter((v) => !(((v as Props).remotes as string[] | undefined) ?? []).includes(v.local!)),
  LinkShaping: fc
    .record(
      {
        namespace: nsName,
        device: ifName,
        rate: shapingRate,
        delay: shapingTime,
        jitter: shapingTime,
        loss: percentValue,
        duplicate: percentValue,
        reorder: percentValue,
      },
      { requiredKeys: ["device"] },
    )
    .map((s) => {
      // jitter and reorder need a delay; at least one value.
      const out: Props = { ...s };
      if (out.delay === undefined) {
        delete out.jitter;
        delete out.reorder;
      }
      if (!["rate", "delay", "loss", "duplicate"].some((k) => out[k] !== undefined)) {
        out.rate = "10mbit";
      }
      return out;
    }),
};

/** Valid inputs as the engine sends them: a connection, the resource's name and the serialized provider. */
function valid(kind: KindName): fc.Arbitrary<Props> {
  return fc.tuple(VALID[kind], connection, resourceName).map(([fields, conn, name]) => ({
    connection: conn,
    resourceName: name,
    ...fields,
    [PROVIDER_KEY]: "exports.handler = () => ({})",
  }));
}

// ---------------------------------------------------------------------------
// Hostile values

const hostileString = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    ".",
    "..",
    "../../etc/passwd",
    "-rf",
    "--help",
    "eth0;reboot",
    "$(reboot)",
    "`id`",
    "a\nb",
    "a\u0000b",
    "fe80::1%eth0",
    "10.0.0.1/33",
    "10.0.0.256/24",
    "010.0.0.1/24",
    "10.1/8",
    "0.0.0.0",
    "224.0.0.1/24",
    "::/0",
    "0.0.0.0/0",
    "10.0.0.0/24",
    "10.0.0.255/24",
    "default",
    "main",
    "tcp",
    "007",
    "4294967296",
    "x".repeat(300),
    "é",
    "\u202e",
    UNKNOWN,
  ),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.ipV4Extended(),
  fc.ipV6(),
);
const hostileNumber = fc.constantFrom(
  -1,
  0,
  1.5,
  -0,
  67,
  65536,
  4294967296,
  Number.MAX_SAFE_INTEGER,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant(UNKNOWN),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.oneof(hostileString, hostileNumber, fc.constant(null), fc.constant(UNKNOWN)), {
    maxLength: 3,
  }),
  fc.dictionary(fc.constantFrom("name", "host", "value", "namespace", "address"), hostileString, {
    maxKeys: 2,
  }),
  fc.constant(secret("10.0.0.1")),
  hostileString.map(secret),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Marks a field to leave out altogether, as the engine sends an input nobody set. */
const ABSENT = Symbol("absent");

/** Every path in a value: objects' fields and arrays' elements, at any depth. */
function pathsOf(value: unknown, at: Path = []): Path[] {
  if (value === null || typeof value !== "object") return [at];
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [at, ...keys.flatMap((k) => pathsOf((value as Record<string, unknown>)[k], [...at, k]))];
}

function getAt(value: unknown, path: Path): unknown {
  return path.reduce<unknown>(
    (v, k) => (v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined),
    value,
  );
}

/** A copy of `value` with `path` set to `to` (objects made along the way as needed). */
function setAt(value: unknown, path: Path, to: unknown): unknown {
  if (path.length === 0) return to;
  const [key, ...rest] = path;
  const base =
    value !== null && typeof value === "object"
      ? Array.isArray(value)
        ? [...value]
        : { ...(value as Props) }
      : typeof key === "number"
        ? []
        : {};
  if (to === ABSENT && rest.length === 0) {
    if (Array.isArray(base)) base.splice(key as number, 1);
    else delete (base as Props)[key as string];
    return base;
  }
  (base as Record<string | number, unknown>)[key!] = setAt(
    (base as Record<string | number, unknown>)[key!],
    rest,
    to,
  );
  return base;
}

/** Inputs with one field, anywhere (fields not given too), set to a hostile value or left out. */
function hostile(kind: KindName): fc.Arbitrary<Props> {
  return fc
    .tuple(
      valid(kind),
      fc.nat(),
      fc.oneof(
        { weight: 9, arbitrary: hostileValue },
        { weight: 1, arbitrary: fc.constant(ABSENT) },
      ),
      fc.boolean(),
    )
    .map(([inputs, pick, bad, topLevel]) => {
      const candidates = topLevel
        ? FIELDS[kind].map((f) => [f] as Path)
        : pathsOf(inputs).filter((p) => p.length > 0 && p[0] !== PROVIDER_KEY);
      const path = candidates[pick % candidates.length]!;
      return setAt(inputs, path, bad) as Props;
    });
}

/** A path as check failures write it: `a.addresses[1]`. */
function failurePath(path: Path): string {
  return path.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");
}

/** True when `path` is `prefix` or a path inside it. */
function isPrefix(prefix: Path, path: Path): boolean {
  return prefix.length <= path.length && prefix.every((k, i) => path[i] === k);
}

/** Valid inputs with some fields, at any depth, not known yet (a preview). */
function withUnknowns(kind: KindName): fc.Arbitrary<{ inputs: Props; paths: Path[] }> {
  return fc
    .tuple(valid(kind), fc.array(fc.nat(), { minLength: 1, maxLength: 3 }))
    .map(([inputs, picks]) => {
      const candidates = pathsOf(inputs).filter((p) => p.length > 0 && p[0] !== PROVIDER_KEY);
      let out: unknown = inputs;
      let paths: Path[] = [];
      for (const pick of picks) {
        const path = candidates[pick % candidates.length]!;
        // A field inside one already unknown is no longer there to replace.
        if (paths.some((p) => isPrefix(p, path))) continue;
        out = setAt(out, path, UNKNOWN);
        // And the fields inside this one are gone with it.
        paths = [...paths.filter((p) => !isPrefix(path, p)), path];
      }
      return { inputs: out as Props, paths };
    });
}

/** Valid inputs with one field, at any depth, wrapped as a secret. */
function withSecret(kind: KindName): fc.Arbitrary<{ inputs: Props; path: Path }> {
  return fc.tuple(valid(kind), fc.nat()).map(([inputs, pick]) => {
    const candidates = pathsOf(inputs).filter((p) => p.length > 0 && p[0] !== PROVIDER_KEY);
    const path = candidates[pick % candidates.length]!;
    return { inputs: setAt(inputs, path, secret(getAt(inputs, path))) as Props, path };
  });
}

// ---------------------------------------------------------------------------
// The SDK's side of the wire (cmd/dynamic-provider/index.js), step for step

function toStruct(value: unknown): structproto.Struct {
  return structproto.Struct.fromJavaScript(value as Record<string, structproto.JavaScriptValue>);
}

/** What checkRPC does with a check's answer; returns the inputs as the engine receives them. */
function sendCheck(result: dynamic.CheckResult, news: Props): Props {
  const resp = new provproto.CheckResponse();
  const inputs = { ...(result.inputs ?? news) };
  inputs[PROVIDER_KEY] = news[PROVIDER_KEY];
  resp.setInputs(toStruct(inputs));
  resp.setFailuresList(
    (result.failures ?? []).map((f) => {
      const failure = new provproto.CheckFailure();
      failure.setProperty(f.property);
      failure.setReason(f.reason);
      return failure;
    }),
  );
  const back = provproto.CheckResponse.deserializeBinary(resp.serializeBinary());
  return back.getInputs()!.toJavaScript();
}

/** What diffRPC does with a diff's answer. */
function sendDiff(result: dynamic.DiffResult): void {
  const resp = new provproto.DiffResponse();
  if (result.changes === true) resp.setChanges(provproto.DiffResponse.DiffChanges.DIFF_SOME);
  else if (result.changes === false) resp.setChanges(provproto.DiffResponse.DiffChanges.DIFF_NONE);
  else resp.setChanges(provproto.DiffResponse.DiffChanges.DIFF_UNKNOWN);
  if (result.replaces && result.replaces.length !== 0) resp.setReplacesList(result.replaces);
  if (result.deleteBeforeReplace) resp.setDeletebeforereplace(result.deleteBeforeReplace);
  provproto.DiffResponse.deserializeBinary(resp.serializeBinary());
}

/** What createRPC, updateRPC and readRPC do with outputs: the provider key added, then a Struct. */
function sendOutputs(outs: unknown, props: Props): Props {
  const withProvider = Object.assign(outs ?? {}, { [PROVIDER_KEY]: props[PROVIDER_KEY] });
  return structproto.Struct.deserializeBinary(
    toStruct(withProvider).serializeBinary(),
  ).toJavaScript();
}

// ---------------------------------------------------------------------------
// Assertions

/** Every failure names a field of the kind (`a.name`, `addresses[1]`, `connection.host`) and a rule. */
function expectFailuresNameFields(kind: KindName, failures: readonly dynamic.CheckFailure[]): void {
  for (const f of failures) {
    expect(typeof f.property, JSON.stringify(f)).toBe("string");
    expect(FIELDS[kind], JSON.stringify(f)).toContain(f.property.split(/[.[]/)[0]);
    expect(typeof f.reason, JSON.stringify(f)).toBe("string");
    expect(f.reason.length, JSON.stringify(f)).toBeGreaterThan(0);
  }
}

function kindOf(name: KindName): Kind<BaseInputs, BaseInputs> {
  return kinds[name] as unknown as Kind<BaseInputs, BaseInputs>;
}

/** One check as the engine runs it: through the handler, then over the wire. */
async function check(kind: KindName, olds: Props, news: Props) {
  const result = await handler(kind).check!(olds, news);
  const sent = sendCheck(result, news);
  expectFailuresNameFields(kind, result.failures ?? []);
  return { result, sent, failures: result.failures ?? [] };
}

/** One diff as the engine runs it. */
async function diff(kind: KindName, olds: Props, news: Props): Promise<dynamic.DiffResult> {
  const result = await handler(kind).diff!("id", olds, news);
  sendDiff(result);
  for (const r of result.replaces ?? []) expect(FIELDS[kind]).toContain(r);
  return result;
}

const property = { numRuns: RUNS };

describe("the engine's wire, by example", () => {
  const news = (fields: Props): Props => ({
    connection: { host: "10.1.0.2", privateKey: "k" },
    resourceName: "r",
    ...fields,
    [PROVIDER_KEY]: "p",
  });

  it("carries a Route with a device and no gateway (issue 9: Unexpected struct type)", async () => {
    const { sent, failures } = await check(
      "Route",
      {},
      news({ destination: "10.1.0.0/24", device: "eth0" }),
    );
    expect(failures).toEqual([]);
    expect(sent).toMatchObject({ destination: "10.1.0.0/24", device: "eth0" });
    expect(Object.keys(sent)).not.toContain("via");
  });

  it.each([
    {
      label: "a Route with no destination",
      kind: "Route",
      fields: { via: "10.0.0.254" },
      property: "destination",
    },
    { label: "a NatRule with no source", kind: "NatRule", fields: {}, property: "source" },
    { label: "a VethPair with no end b", kind: "VethPair", fields: { a: {} }, property: "b" },
    {
      label: "a ConnectivityCheck with no target",
      kind: "ConnectivityCheck",
      fields: {},
      property: "to",
    },
  ] as const)(
    "carries the failure of $label to the user instead of a Struct error",
    async ({ kind, fields, property }) => {
      const { failures } = await check(kind, {}, news(fields));
      expect(failures.map((f) => f.property)).toContain(property);
    },
  );

  it("refuses a secret wrapper in check, naming where it is: the engine sends secrets plain", async () => {
    const { sent, failures } = await check(
      "Namespace",
      {},
      news({ name: "ns-blue", connection: { host: "10.1.0.2", privateKey: secret("k") } }),
    );
    expect(failures).toEqual([
      { property: "connection.privateKey", reason: expect.stringMatching(/secret wrapper/) },
    ]);
    expect(getAt(sent, ["connection", "privateKey"])).toEqual(secret("k"));
  });
});

describe.each(NAMES.map((kind) => [kind] as const))("%s through the engine's wire", (kind) => {
  it(
    "accepts every valid input, sends it intact, and checks it again to the same value",
    async () => {
      await fc.assert(
        fc.asyncProperty(valid(kind), async (news) => {
          const first = await check(kind, {}, news);
          expect(first.failures).toEqual([]);
          // Nothing the kind returned was lost or changed on the way.
          expect(first.sent).toEqual({
            ...structSafe(first.result.inputs),
            [PROVIDER_KEY]: news[PROVIDER_KEY],
          });
          // The kind itself sends no undefined, even without the runtime's copy.
          const direct = kindOf(kind).check({}, news as BaseInputs);
          expect(containsUndefined(direct.inputs), JSON.stringify(direct.inputs)).toBe(false);
          // Checked again as an update (olds from state), the inputs are the same and nothing changes.
          const again = await check(kind, first.sent, news);
          expect(again.sent).toEqual(first.sent);
          const d = await diff(kind, first.sent, again.sent);
          expect(d.changes).toBe(false);
        }),
        property,
      );
    },
    TIMEOUT,
  );

  it(
    "answers hostile input without throwing, with failures that name the field",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          valid(kind),
          hostile(kind),
          fc.boolean(),
          async (previous, news, update) => {
            const olds = update ? (await check(kind, {}, previous)).sent : {};
            const { sent } = await check(kind, olds, news);
            expect(containsNonFinite(sent)).toBe(false);
            // The kind itself, called directly: no throw, failures that name a field, and no
            // undefined of its own making (the engine never sends one, so any would be the kind's).
            const direct = kindOf(kind).check(olds, news as BaseInputs);
            expectFailuresNameFields(kind, direct.failures);
            if (!containsUndefined(news)) {
              expect(containsUndefined(direct.inputs), JSON.stringify(direct.inputs)).toBe(false);
            }
            // The engine diffs only inputs that passed check, but a diff must not throw on any.
            if (update) {
              await diff(kind, olds, sent);
              kindOf(kind).diff(olds as BaseInputs, direct.inputs);
            }
          },
        ),
        property,
      );
    },
    TIMEOUT,
  );

  it(
    "lets unknown values through anywhere and sends the placeholder back where it was",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          valid(kind),
          withUnknowns(kind),
          fc.boolean(),
          async (previous, { inputs, paths }, update) => {
            // State never holds unknowns: an update's olds are a previous, known check.
            const olds = update ? (await check(kind, {}, previous)).sent : {};
            const { sent, failures } = await check(kind, olds, inputs);
            expect(failures).toEqual([]);
            for (const path of paths) expect(getAt(sent, path), path.join(".")).toBe(UNKNOWN);
            if (update) await diff(kind, olds, sent);
          },
        ),
        property,
      );
    },
    TIMEOUT,
  );

  it(
    "refuses a secret wrapper anywhere, naming where it is, and sends it back as it came",
    async () => {
      await fc.assert(
        fc.asyncProperty(withSecret(kind), async ({ inputs, path }) => {
          const { sent, failures } = await check(kind, {}, inputs);
          expect(failures.map((f) => f.property)).toEqual([failurePath(path)]);
          expect(getAt(sent, path), failurePath(path)).toEqual(getAt(inputs, path));
        }),
        property,
      );
    },
    TIMEOUT,
  );
});

// ---------------------------------------------------------------------------
// Outputs: what create, update and read hand back

/** A reader that answers from generated facts (a reader runs no command). */
function stubReader(facts: ReaderFacts, props: Props): HostReader {
  return {
    name: "stub",
    link: async () => facts.link,
    namespaces: async () => (facts.namespacePresent ? [String(props.name), "other"] : ["other"]),
    loopbackUp: async () => facts.loopbackUp,
    routes: async () => facts.routes,
    taggedRules: async () => facts.rules,
    nftTable: async () => facts.nftTable,
    ipForward: async () => facts.ipForward,
    sysctl: async () => facts.sysctl,
    sysctlClaim: async () => facts.sysctlClaim,
    fdb: async () => facts.fdb,
    qdiscs: async () => facts.qdiscs,
    bootId: async () => undefined,
  };
}

/** What the stub reader says about the host. */
interface ReaderFacts {
  readonly link: LinkFacts | undefined;
  readonly namespacePresent: boolean;
  readonly loopbackUp: boolean | undefined;
  readonly routes: RouteEntry[] | undefined;
  readonly rules: TaggedRule[] | undefined;
  readonly nftTable: NftTableState | undefined;
  readonly ipForward: 0 | 1 | undefined;
  readonly sysctl: string | undefined;
  readonly sysctlClaim: string | undefined;
  readonly fdb: FdbEntry[] | undefined;
  readonly qdiscs: QdiscEntry[] | undefined;
}

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** The id the read of a NatRule looks for in its rules' tags. */
const NAT_ID = "nat-1";

const readerFacts: fc.Arbitrary<ReaderFacts> = fc.record({
  link: maybe(
    fc.record(
      {
        kind: fc.constantFrom("bridge", "veth", "vxlan", undefined),
        addresses: addressList,
        up: fc.boolean(),
        mtu: fc.integer({ min: 68, max: 65535 }),
        bridge: ifName,
      },
      { requiredKeys: ["kind", "addresses", "up", "mtu"] },
    ),
  ),
  namespacePresent: fc.boolean(),
  loopbackUp: maybe(fc.boolean()),
  routes: maybe(
    fc.array(
      fc.record(
        {
          dst: fc.constantFrom("default", "10.1.0.0/16"),
          gateway: v4Gateway,
          dev: ifName,
          metric: fc.constantFrom(0, 100, 1024),
        },
        { requiredKeys: ["dst"] },
      ),
      { maxLength: 3 },
    ),
  ),
  rules: maybe(
    fc.array(
      fc.record({
        chain: fc.constantFrom("POSTROUTING", "PREROUTING", "OUTPUT"),
        spec: fc.constantFrom(
          ["-s", "10.0.0.0/24", "-j", "MASQUERADE"],
          ["-s", "10.0.0.0/24", "-o", "eth0", "-j", "MASQUERADE"],
          ["-i", "br0", "-o", "br0", "-j", "ACCEPT"],
          [
            "-p",
            "tcp",
            "-m",
            "tcp",
            "--dport",
            "8080",
            "-j",
            "DNAT",
            "--to-destination",
            "10.0.0.2:80",
          ],
          [
            "-i",
            "eth0",
            "-p",
            "udp",
            "--dport",
            "8000:8010",
            "-j",
            "DNAT",
            "--to-destination",
            "10.0.0.2:80-90/8000",
          ],
          ["-j", "DNAT"],
          ["-s", "10.0.0.0/24", "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE"],
        ),
        tag: fc.constantFrom(
          `linuxnet:${NAT_ID}`,
          `linuxnet:${NAT_ID}:fwd`,
          "linuxnet:bridge:br0",
          "other",
        ),
      }),
      { maxLength: 3 },
    ),
  ),
  nftTable: maybe(
    fc.record({
      exists: fc.boolean(),
      chains: fc.constant([{ name: "postrouting", handle: 1 }]),
      rules: fc.array(
        fc.record({
          chain: fc.constantFrom("postrouting", "forward"),
          handle: fc.integer({ min: 1, max: 1000 }),
          comment: fc.constantFrom(
            `linuxnet:${NAT_ID}:fwd`,
            "linuxnet:bridge:br0",
            "other",
            undefined,
          ),
          expr: fc.constantFrom(
            [{ masquerade: null }],
            [
              {
                match: {
                  op: "==",
                  left: { payload: { protocol: "ip", field: "saddr" } },
                  right: { prefix: { addr: "10.0.0.0", len: 24 } },
                },
              },
              { masquerade: null },
            ],
            [{ accept: null }],
          ),
        }),
        { maxLength: 3 },
      ),
    }),
  ),
  ipForward: fc.constantFrom(0 as const, 1 as const, undefined),
  sysctl: fc.constantFrom("1", "0", "1\t0", "", undefined),
  sysctlClaim: fc.constantFrom(NAT_ID, "sysctl-other", undefined),
  fdb: maybe(
    fc.array(
      fc.record(
        {
          mac: fc.constantFrom("00:00:00:00:00:00", "02:42:ac:11:00:02"),
          dst: v4Unicast,
          flags: fc.constantFrom(["self"], [], ["self", "offload"]),
          master: fc.constantFrom("br0"),
          state: fc.constantFrom("permanent", "stale"),
        },
        { requiredKeys: ["mac"] },
      ),
      { maxLength: 4 },
    ),
  ),
  qdiscs: maybe(
    fc.array(
      fc.oneof(
        fc.constant({ kind: "noqueue", handle: "0:", root: true }),
        fc.record({
          kind: fc.constant("tbf"),
          handle: fc.constantFrom("4c54:", "1:"),
          root: fc.boolean(),
          options: fc.record({ rate: fc.integer({ min: 0, max: 2 ** 40 }) }, { requiredKeys: [] }),
        }),
        fc.record({
          kind: fc.constant("netem"),
          handle: fc.constantFrom("4c4e:", "8001:"),
          root: fc.boolean(),
          options: fc.record(
            {
              delay: fc.record(
                {
                  delay: fc.double({ min: 0, max: 10, noNaN: true }),
                  jitter: fc.double({ min: 0, max: 1, noNaN: true }),
                },
                { requiredKeys: [] },
              ),
              "loss-random": fc.record({ loss: fc.double({ min: 0, max: 1, noNaN: true }) }),
              duplicate: fc.record({ duplicate: fc.double({ min: 0, max: 1, noNaN: true }) }),
              reorder: fc.record({ reorder: fc.double({ min: 0, max: 1, noNaN: true }) }),
              rate: fc.record({ rate: fc.integer({ min: 0, max: 2 ** 40 }) }),
            },
            { requiredKeys: [] },
          ),
        }),
      ),
      { maxLength: 2 },
    ),
  ),
});

/** Outputs as a kind's create returns them: its checked inputs and its own output fields, some unset. */
const EXTRA_OUTPUTS: Record<KindName, fc.Arbitrary<Props>> = {
  Namespace: fc.constant({}),
  Bridge: fc.record({ firewallBackend: fc.constantFrom("iptables", "nftables", undefined) }),
  VethPair: fc.constant({}),
  Route: fc.constant({}),
  NatRule: fc.record({
    tag: fc.constant("linuxnet:nat-1:fwd"),
    forwardingBefore: fc.constantFrom(0, 1, undefined),
    firewallBackend: fc.constantFrom("iptables", "nftables", undefined),
  }),
  Sysctl: fc.record({ valueBefore: fc.constantFrom("0", "1\t0", "") }),
  PortForward: fc.record({
    tag: fc.constant("linuxnet:pf-1:fwd"),
    forwardingBefore: fc.constantFrom(0, 1, undefined),
    hairpinSource: fc.constantFrom("10.0.0.0/24", undefined),
    rulesIntact: fc.boolean(),
    firewallBackend: fc.constantFrom("iptables", "nftables", undefined),
  }),
  ConnectivityCheck: fc.record({
    healthy: fc.boolean(),
    summary: fc.string(),
    firstFailure: fc.constantFrom("bridge.up", undefined),
  }),
  Vxlan: fc.record({ effectiveMtu: fc.constantFrom(1450, 1400, undefined) }),
  LinkShaping: fc.record({
    qdisc: fc.constantFrom("tbf", "netem"),
    qdiscBefore: fc.constantFrom("noqueue", "pfifo_fast", "none"),
  }),
};

describe.each(NAMES.map((kind) => [kind] as const))("%s outputs", (kind) => {
  it(
    "go over the wire after the runtime's copy, with every defined field kept",
    async () => {
      await fc.assert(
        fc.asyncProperty(valid(kind), EXTRA_OUTPUTS[kind], fc.string(), async (news, extra, fp) => {
          const checked = (await check(kind, {}, news)).sent;
          const outs = { ...checked, ...extra, hostKeyFingerprint: fp, unset: undefined };
          const sent = sendOutputs(structSafe(outs), checked);
          expect(sent).toEqual(
            JSON.parse(JSON.stringify({ ...outs, [PROVIDER_KEY]: news[PROVIDER_KEY] })),
          );
        }),
        property,
      );
    },
    TIMEOUT,
  );

  it("of a create a broken connection cut off go over the wire as the error's properties", async () => {
    await fc.assert(
      fc.asyncProperty(valid(kind), async (news) => {
        const checked = (await check(kind, {}, news)).sent;
        const lost = new TransportError("protocol", "10.1.0.2", "connection lost");
        const e = interrupted(lost, "id", { ...checked, unset: undefined } as BaseInputs) as {
          properties?: unknown;
        };
        // grpcResponseFromError: Struct.fromJavaScript(e.properties || {}).
        toStruct(e.properties || {}).serializeBinary();
      }),
      { numRuns: 30 },
    );
  });
});

// ConnectivityCheck's read runs the doctor, which asks the host far more than a HostReader's
// questions; its outputs are the synthetic ones above.
const READ_KINDS = NAMES.filter((kind) => kind !== "ConnectivityCheck");

describe.each(READ_KINDS.map((kind) => [kind] as const))("%s read", (kind) => {
  it(
    "goes over the wire after the runtime's copy, whatever the host holds",
    async () => {
      await fc.assert(
        fc.asyncProperty(valid(kind), readerFacts, fc.string(), async (news, facts, fp) => {
          const props = (await check(kind, {}, news)).sent;
          const outs = await kindOf(kind).read(
            stubReader(facts, props),
            NAT_ID,
            props as BaseInputs,
          );
          if (outs) sendOutputs(structSafe({ ...outs, hostKeyFingerprint: fp }), props);
        }),
        property,
      );
    },
    TIMEOUT,
  );
});

describe("engine safety", () => {
  it("opened no SSH connection, channel or command", () => {
    expect(transportStats).toEqual({ connections: 0, channels: 0, commands: 0 });
  });
});
