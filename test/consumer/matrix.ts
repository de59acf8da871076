/**
 * The consumer tier's matrix: configurations of every kind, with every
 * optional input present and absent and the combinations users write, each
 * with what the kernel must show once it is deployed. Pure: it makes data,
 * and from that data the source of a Pulumi program in TypeScript or plain
 * JavaScript as a user would write it (so the user's compiler checks our
 * types too). Every configuration has its own names and networks, so all of
 * them deploy side by side in one stack.
 */

/** A reference to another resource's output in a generated program: `ref("m01ns", "name")`. */
export class Ref {
  constructor(
    readonly resource: string,
    readonly path: string,
  ) {}
}

/** Program text used as it is (the same in TypeScript and JavaScript). */
export class Code {
  constructor(readonly text: string) {}
}

/** A value in a generated program. */
export type Expr = string | number | boolean | Ref | Code | Expr[] | { [key: string]: Expr };

/** The kinds a program can declare (the public classes of the package). */
export type KindName =
  | "Namespace"
  | "Bridge"
  | "VethPair"
  | "Route"
  | "NatRule"
  | "PortForward"
  | "Sysctl"
  | "ConnectivityCheck"
  | "Vxlan"
  | "LinkShaping";

/** One `new linuxnet.<kind>(name, args, { dependsOn })` statement. */
export interface Decl {
  readonly kind: KindName;
  /** The resource's name in the stack, also the program's variable. */
  readonly name: string;
  /** Its args; a field left `undefined` is not written. */
  readonly args: { readonly [key: string]: Expr | undefined };
  readonly dependsOn?: readonly string[];
}

/**
 * The name of an object on the host: given in the program, or (auto-named)
 * read from the stack output `names` under this key after `up`.
 */
export type ObjectName = string | { readonly output: string };

/** What the kernel must show after `up`, checked out of band. */
export type Expectation =
  | { readonly namespace: ObjectName }
  | { readonly loopback: ObjectName; readonly up: boolean }
  | {
      readonly link: ObjectName;
      readonly in?: ObjectName;
      readonly type: "bridge" | "veth";
      readonly up: boolean;
      readonly mtu?: number;
      readonly master?: ObjectName;
      /** The configured addresses, exactly (IPv6 link-local ones left out). */
      readonly addresses: readonly string[];
    }
  | {
      readonly route: string;
      readonly in?: ObjectName;
      readonly family: 4 | 6;
      readonly table?: string;
      readonly metric?: number;
      readonly gateway?: string;
      readonly dev?: ObjectName;
    }
  | {
      /** A rule of `iptables -S` in the table, matching this pattern. */
      readonly rule: string;
      readonly table: "nat" | "filter";
      readonly in?: ObjectName;
    }
  | {
      /** A VXLAN device: its id, port, MTU, bridge and the remotes in its forwarding database, exactly. */
      readonly vxlan: ObjectName;
      readonly in?: ObjectName;
      readonly vni: number;
      readonly port: number;
      readonly mtu: number;
      readonly master?: ObjectName;
      readonly group?: string;
      readonly remotes: readonly ObjectName[];
      readonly addresses: readonly string[];
    }
  | {
      /** A line of `nft list table inet linuxnet` (trimmed), matching this pattern. */
      readonly nftRule: string;
      readonly in?: ObjectName;
    }
  | { readonly forwarding: ObjectName | ""; readonly value: "0" | "1" }
  | {
      /** A setting's file under /proc/sys, and its value (white space between words as one). */
      readonly sysctl: string;
      readonly in?: ObjectName;
      readonly value: string;
    }
  | {
      /** The root qdisc of this interface, as `tc -json qdisc show` prints it. */
      readonly qdisc: ObjectName;
      readonly in?: ObjectName;
      readonly kind: "tbf" | "netem";
      /** tbf's rate, or netem's, in bytes per second. */
      readonly rate?: number;
    }
  | { readonly healthy: string };

/** One configuration: a few resources and what they must make. */
export interface Configuration {
  readonly label: string;
  readonly decls: readonly Decl[];
  readonly expect: readonly Expectation[];
  /** Stack outputs `names[key]` = the object name of a resource's output (auto-names). */
  readonly names?: Readonly<Record<string, Code>>;
}

const ref = (resource: string, path = "name") => new Ref(resource, path);
const code = (text: string) => new Code(text);

/**
 * The connections of the matrix's explicit-connection rows, as program code;
 * the generated program defines `lab` from its stack config (see
 * {@link programSource}).
 */
export const CONNECTIONS = {
  /** Key, pinned host key, everything else defaulted. */
  key: code("{ host: lab.host, privateKey: lab.key, hostKey: lab.hostKey }"),
  /** Every field that has a default, written out. */
  explicit: code(
    '{ host: lab.host, port: 22, user: "root", privateKey: lab.key, hostKey: lab.hostKey, sudo: false, dialTimeoutMs: 30000 }',
  ),
  /** The host key pinned by its SHA256 fingerprint. */
  fingerprint: code("{ host: lab.host, privateKey: lab.key, hostKey: lab.fingerprint }"),
  /** A key protected by a passphrase. */
  passphrase: code(
    "{ host: lab.host, privateKey: lab.encryptedKey, privateKeyPassphrase: lab.passphrase, hostKey: lab.hostKey }",
  ),
  /** An ssh-agent holding the key. */
  agent: code("{ host: lab.host, agentSocket: lab.agentSocket, hostKey: lab.hostKey }"),
  /** A non-root user through `sudo -n`. */
  sudo: code(
    "{ host: lab.host, user: lab.sudoUser, sudo: true, privateKey: lab.key, hostKey: lab.hostKey }",
  ),
  /**
   * The sudo user by password, with a sudo password (the lab's sudo does not ask, so it
   * is never typed here: the host tier proves the asking), forgetting an unreachable host.
   */
  password: code(
    "{ host: lab.host, user: lab.sudoUser, password: lab.password, sudoPassword: lab.password, hostKey: lab.hostKey, deleteUnreachable: true }",
  ),
  /** Through a jump host. */
  proxy: code(
    "{ host: lab.host, privateKey: lab.key, hostKey: lab.hostKey, proxy: { host: lab.jumpHost, privateKey: lab.key, hostKey: lab.jumpHostKey } }",
  ),
} as const;

/** The configurations: every kind, every optional input present and absent. */
export function matrix(): Configuration[] {
  const rows: Configuration[] = [];
  let n = 0;
  /** Adds a row; `p` is its prefix for names ("m07"), `i` its number for networks. */
  const add = (label: string, build: (p: string, i: number) => Omit<Configuration, "label">) => {
    n += 1;
    const p = `m${String(n).padStart(2, "0")}`;
    rows.push({ label: `${p} ${label}`, ...build(p, n) });
  };
  const v4 = (i: number, host: number, len = 24) => `10.100.${i}.${host}/${len}`;
  const v6 = (i: number, host: number) => `fd00:100:${i}::${host}/64`;
  const ns = (name: string, extra: { [k: string]: Expr } = {}): Decl => ({
    kind: "Namespace",
    name,
    args: { name, ...extra },
  });
  /** A veth from namespace `${p}ns` (address .2) to the host (address .1), the row's uplink. */
  const uplink = (p: string, i: number, extra: { [k: string]: Expr } = {}): Decl => ({
    kind: "VethPair",
    name: `${p}v`,
    args: {
      ...extra,
      a: { name: `${p}a`, namespace: ref(`${p}ns`), addresses: [v4(i, 2)] },
      b: { name: `${p}b`, addresses: [v4(i, 1)] },
    },
  });
  /** Namespaces `${p}x` (address .1) and `${p}y` (address .2) joined by veth `${p}v`. */
  const pair = (p: string, i: number): Decl[] => [
    ns(`${p}x`),
    ns(`${p}y`),
    {
      kind: "VethPair",
      name: `${p}v`,
      args: {
        a: { name: `${p}a`, namespace: ref(`${p}x`), addresses: [v4(i, 1)] },
        b: { name: `${p}b`, namespace: ref(`${p}y`), addresses: [v4(i, 2)] },
      },
    },
  ];
  /** A ConnectivityCheck row: the check `${p}c` after `decls`, which must find the path healthy. */
  const checkRow = (
    p: string,
    decls: Decl[],
    args: { [k: string]: Expr },
    after: string[],
  ): Omit<Configuration, "label"> => ({
    decls: [
      ...decls,
      {
        kind: "ConnectivityCheck",
        name: `${p}c`,
        args,
        ...(after.length ? { dependsOn: after } : {}),
      },
    ],
    names: { [`${p}c`]: code(`${p}c.healthy`) },
    expect: [{ healthy: `${p}c` }],
  });

  // ---- Namespace
  add("namespace, name given, loopback default", (p) => ({
    decls: [ns(`${p}ns`)],
    expect: [{ namespace: `${p}ns` }, { loopback: `${p}ns`, up: true }],
  }));
  add("namespace, loopbackUp false", (p) => ({
    decls: [ns(`${p}ns`, { loopbackUp: false })],
    expect: [{ namespace: `${p}ns` }, { loopback: `${p}ns`, up: false }],
  }));
  add("namespace, loopbackUp true", (p) => ({
    decls: [ns(`${p}ns`, { loopbackUp: true })],
    expect: [{ loopback: `${p}ns`, up: true }],
  }));
  add("namespace, adopt true with nothing there to adopt (made as usual)", (p) => ({
    decls: [ns(`${p}ns`, { adopt: true })],
    expect: [{ namespace: `${p}ns` }, { loopback: `${p}ns`, up: true }],
  }));
  add("namespace, auto-named", (p) => ({
    decls: [{ kind: "Namespace", name: `${p}ns`, args: {} }],
    names: { [`${p}ns`]: code(`${p}ns.name`) },
    expect: [{ namespace: { output: `${p}ns` } }, { loopback: { output: `${p}ns` }, up: true }],
  }));

  // ---- Bridge
  add("bridge, name only", (p) => ({
    decls: [{ kind: "Bridge", name: `${p}br`, args: { name: `${p}br` } }],
    expect: [{ link: `${p}br`, type: "bridge", up: true, addresses: [] }],
  }));
  add("bridge, IPv4 address", (p, i) => ({
    decls: [{ kind: "Bridge", name: `${p}br`, args: { name: `${p}br`, addresses: [v4(i, 254)] } }],
    expect: [{ link: `${p}br`, type: "bridge", up: true, addresses: [v4(i, 254)] }],
  }));
  add("bridge, IPv4 and IPv6 addresses", (p, i) => ({
    decls: [
      {
        kind: "Bridge",
        name: `${p}br`,
        args: { name: `${p}br`, addresses: [v4(i, 254), v6(i, 254)] },
      },
    ],
    expect: [{ link: `${p}br`, type: "bridge", up: true, addresses: [v4(i, 254), v6(i, 254)] }],
  }));
  add("bridge, MTU", (p) => ({
    decls: [{ kind: "Bridge", name: `${p}br`, args: { name: `${p}br`, mtu: 1400 } }],
    expect: [{ link: `${p}br`, type: "bridge", up: true, mtu: 1400, addresses: [] }],
  }));
  add("bridge, up false", (p, i) => ({
    decls: [
      {
        kind: "Bridge",
        name: `${p}br`,
        args: { name: `${p}br`, up: false, addresses: [v4(i, 1)] },
      },
    ],
    expect: [{ link: `${p}br`, type: "bridge", up: false, addresses: [v4(i, 1)] }],
  }));
  add("bridge, acceptForwarding on the host", (p) => ({
    decls: [{ kind: "Bridge", name: `${p}br`, args: { name: `${p}br`, acceptForwarding: true } }],
    expect: [
      { link: `${p}br`, type: "bridge", up: true, addresses: [] },
      { rule: `^-A FORWARD -i ${p}br -o ${p}br .*-j ACCEPT$`, table: "filter" },
    ],
  }));
  add("bridge, acceptForwarding false, every input written out", (p, i) => ({
    decls: [
      {
        kind: "Bridge",
        name: `${p}br`,
        args: {
          name: `${p}br`,
          addresses: [v4(i, 1)],
          mtu: 1500,
          up: true,
          acceptForwarding: false,
          adopt: false,
        },
      },
    ],
    expect: [{ link: `${p}br`, type: "bridge", up: true, mtu: 1500, addresses: [v4(i, 1)] }],
  }));
  add("bridge in a namespace, with address and acceptForwarding", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      {
        kind: "Bridge",
        name: `${p}br`,
        args: {
          name: `${p}br`,
          namespace: ref(`${p}ns`),
          addresses: [v4(i, 254)],
          acceptForwarding: true,
        },
      },
    ],
    expect: [
      { link: `${p}br`, in: `${p}ns`, type: "bridge", up: true, addresses: [v4(i, 254)] },
      { rule: `^-A FORWARD -i ${p}br -o ${p}br .*-j ACCEPT$`, table: "filter", in: `${p}ns` },
    ],
  }));
  add("bridge, acceptForwarding with firewall nftables", (p) => ({
    decls: [
      {
        kind: "Bridge",
        name: `${p}br`,
        args: { name: `${p}br`, acceptForwarding: true, firewall: "nftables" },
      },
    ],
    expect: [
      { link: `${p}br`, type: "bridge", up: true, addresses: [] },
      { nftRule: `^iifname "${p}br" oifname "${p}br" accept comment "linuxnet:bridge:${p}br"$` },
    ],
  }));
  add("bridge in a namespace, acceptForwarding with firewall iptables written out", (p) => ({
    decls: [
      ns(`${p}ns`),
      {
        kind: "Bridge",
        name: `${p}br`,
        args: {
          name: `${p}br`,
          namespace: ref(`${p}ns`),
          acceptForwarding: true,
          firewall: "iptables",
        },
      },
    ],
    expect: [
      { link: `${p}br`, in: `${p}ns`, type: "bridge", up: true, addresses: [] },
      { rule: `^-A FORWARD -i ${p}br -o ${p}br .*-j ACCEPT$`, table: "filter", in: `${p}ns` },
    ],
  }));
  add("bridge, auto-named", (p) => ({
    decls: [{ kind: "Bridge", name: `${p}br`, args: {} }],
    names: { [`${p}br`]: code(`${p}br.name`) },
    expect: [{ link: { output: `${p}br` }, type: "bridge", up: true, addresses: [] }],
  }));

  // ---- VethPair
  add("veth, both ends on the host, no addresses", (p) => ({
    decls: [
      { kind: "VethPair", name: `${p}v`, args: { a: { name: `${p}a` }, b: { name: `${p}b` } } },
    ],
    expect: [
      { link: `${p}a`, type: "veth", up: true, addresses: [] },
      { link: `${p}b`, type: "veth", up: true, addresses: [] },
    ],
  }));
  add("veth, adopt true with nothing there to adopt", (p) => ({
    decls: [
      {
        kind: "VethPair",
        name: `${p}v`,
        args: { a: { name: `${p}a` }, b: { name: `${p}b` }, adopt: true },
      },
    ],
    expect: [
      { link: `${p}a`, type: "veth", up: true, addresses: [] },
      { link: `${p}b`, type: "veth", up: true, addresses: [] },
    ],
  }));
  add("veth, one end in a namespace, the other on the host with an address", (p, i) => ({
    decls: [ns(`${p}ns`), uplink(p, i)],
    expect: [
      { link: `${p}a`, in: `${p}ns`, type: "veth", up: true, addresses: [v4(i, 2)] },
      { link: `${p}b`, type: "veth", up: true, addresses: [v4(i, 1)] },
    ],
  }));
  add("veth, both ends in namespaces (the article's first network)", (p, i) => ({
    decls: pair(p, i),
    expect: [
      { link: `${p}a`, in: `${p}x`, type: "veth", up: true, addresses: [v4(i, 1)] },
      { link: `${p}b`, in: `${p}y`, type: "veth", up: true, addresses: [v4(i, 2)] },
    ],
  }));
  add("veth, a bridge port on the host (the article's bridge)", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      { kind: "Bridge", name: `${p}br`, args: { name: `${p}br`, addresses: [v4(i, 254)] } },
      {
        kind: "VethPair",
        name: `${p}v`,
        args: {
          a: { name: `${p}a`, namespace: ref(`${p}ns`), addresses: [v4(i, 1)] },
          b: { name: `${p}b`, bridge: ref(`${p}br`) },
        },
      },
    ],
    expect: [
      { link: `${p}a`, in: `${p}ns`, type: "veth", up: true, addresses: [v4(i, 1)] },
      { link: `${p}b`, type: "veth", up: true, master: `${p}br`, addresses: [] },
    ],
  }));
  add("veth, a bridge port inside a namespace", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      ns(`${p}rt`),
      {
        kind: "Bridge",
        name: `${p}br`,
        args: { name: `${p}br`, namespace: ref(`${p}rt`), addresses: [v4(i, 254)] },
      },
      {
        kind: "VethPair",
        name: `${p}v`,
        args: {
          a: { name: `${p}a`, namespace: ref(`${p}ns`), addresses: [v4(i, 1)] },
          b: { name: `${p}b`, namespace: ref(`${p}rt`), bridge: ref(`${p}br`) },
        },
      },
    ],
    expect: [
      { link: `${p}b`, in: `${p}rt`, type: "veth", up: true, master: `${p}br`, addresses: [] },
      { link: `${p}br`, in: `${p}rt`, type: "bridge", up: true, addresses: [v4(i, 254)] },
    ],
  }));
  add("veth, both ends auto-named", (p) => ({
    decls: [{ kind: "VethPair", name: `${p}v`, args: { a: {}, b: {} } }],
    names: {
      [`${p}v.a`]: code(`${p}v.a.apply((e) => e.name)`),
      [`${p}v.b`]: code(`${p}v.b.apply((e) => e.name)`),
    },
    expect: [
      { link: { output: `${p}v.a` }, type: "veth", up: true, addresses: [] },
      { link: { output: `${p}v.b` }, type: "veth", up: true, addresses: [] },
    ],
  }));
  add("veth, MTU", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      {
        kind: "VethPair",
        name: `${p}v`,
        args: {
          a: { name: `${p}a`, namespace: ref(`${p}ns`), addresses: [v4(i, 2)] },
          b: { name: `${p}b` },
          mtu: 1400,
        },
      },
    ],
    expect: [
      { link: `${p}a`, in: `${p}ns`, type: "veth", up: true, mtu: 1400, addresses: [v4(i, 2)] },
      { link: `${p}b`, type: "veth", up: true, mtu: 1400, addresses: [] },
    ],
  }));
  add("veth, one end up false, the other up true", (p) => ({
    decls: [
      {
        kind: "VethPair",
        name: `${p}v`,
        args: { a: { name: `${p}a`, up: false }, b: { name: `${p}b`, up: true } },
      },
    ],
    expect: [
      { link: `${p}a`, type: "veth", up: false, addresses: [] },
      { link: `${p}b`, type: "veth", up: true, addresses: [] },
    ],
  }));
  add("veth, IPv4 and IPv6 addresses on both ends", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      {
        kind: "VethPair",
        name: `${p}v`,
        args: {
          a: { name: `${p}a`, namespace: ref(`${p}ns`), addresses: [v4(i, 2), v6(i, 2)] },
          b: { name: `${p}b`, addresses: [v4(i, 1), v6(i, 1)] },
        },
      },
    ],
    expect: [
      { link: `${p}a`, in: `${p}ns`, type: "veth", up: true, addresses: [v4(i, 2), v6(i, 2)] },
      { link: `${p}b`, type: "veth", up: true, addresses: [v4(i, 1), v6(i, 1)] },
    ],
  }));

  // ---- Route: each in a namespace joined to the host by a veth, unless said otherwise
  const routed = (
    p: string,
    i: number,
    route: { [key: string]: Expr },
    expect: Expectation[],
    opts: { v6?: boolean; namespace?: boolean } = {},
  ): Omit<Configuration, "label"> => {
    const inNs = opts.namespace !== false;
    const addresses = opts.v6 ? [v4(i, 2), v6(i, 2)] : [v4(i, 2)];
    return {
      decls: [
        ...(inNs ? [ns(`${p}ns`)] : []),
        {
          kind: "VethPair",
          name: `${p}v`,
          args: {
            a: { name: `${p}a`, ...(inNs ? { namespace: ref(`${p}ns`) } : {}), addresses },
            b: { name: `${p}b`, addresses: opts.v6 ? [v4(i, 1), v6(i, 1)] : [v4(i, 1)] },
          },
        },
        {
          kind: "Route",
          name: `${p}r`,
          args: { ...(inNs ? { namespace: ref(`${p}ns`) } : {}), ...route },
          dependsOn: [`${p}v`],
        },
      ],
      expect: expect.map((e) => ("route" in e && inNs ? { ...e, in: `${p}ns` } : e)),
    };
  };
  add("route, default via a gateway (the article's)", (p, i) =>
    routed(p, i, { destination: "default", via: `10.100.${i}.1` }, [
      { route: "default", family: 4, gateway: `10.100.${i}.1`, dev: `${p}a` },
    ]),
  );
  add("route, device only (no via)", (p, i) =>
    routed(p, i, { destination: `10.101.${i}.0/24`, device: ref(`${p}v`, "a.name") }, [
      { route: `10.101.${i}.0/24`, family: 4, dev: `${p}a` },
    ]),
  );
  add("route, gateway and device", (p, i) =>
    routed(p, i, { destination: `10.101.${i}.0/24`, via: `10.100.${i}.1`, device: `${p}a` }, [
      { route: `10.101.${i}.0/24`, family: 4, gateway: `10.100.${i}.1`, dev: `${p}a` },
    ]),
  );
  add("route, adopt true with nothing there to adopt", (p, i) =>
    routed(p, i, { destination: `10.101.${i}.0/24`, via: `10.100.${i}.1`, adopt: true }, [
      { route: `10.101.${i}.0/24`, family: 4, gateway: `10.100.${i}.1` },
    ]),
  );
  add("route, with a metric", (p, i) =>
    routed(p, i, { destination: `10.101.${i}.0/24`, via: `10.100.${i}.1`, metric: 50 }, [
      { route: `10.101.${i}.0/24`, family: 4, gateway: `10.100.${i}.1`, metric: 50 },
    ]),
  );
  add("route, in another table", (p, i) =>
    routed(p, i, { destination: `10.101.${i}.0/24`, device: `${p}a`, table: "100" }, [
      { route: `10.101.${i}.0/24`, family: 4, dev: `${p}a`, table: "100" },
    ]),
  );
  add("route, metric and table, the main table named", (p, i) =>
    routed(
      p,
      i,
      { destination: `10.101.${i}.0/24`, via: `10.100.${i}.1`, metric: 7, table: "main" },
      [{ route: `10.101.${i}.0/24`, family: 4, gateway: `10.100.${i}.1`, metric: 7 }],
    ),
  );
  add("route, IPv6 via a gateway", (p, i) =>
    routed(
      p,
      i,
      { destination: `fd00:101:${i}::/64`, via: `fd00:100:${i}::1` },
      [{ route: `fd00:101:${i}::/64`, family: 6, gateway: `fd00:100:${i}::1` }],
      { v6: true },
    ),
  );
  add("route, IPv6 device only", (p, i) =>
    routed(
      p,
      i,
      { destination: `fd00:101:${i}::/64`, device: `${p}a` },
      [{ route: `fd00:101:${i}::/64`, family: 6, dev: `${p}a` }],
      { v6: true },
    ),
  );
  add("route, IPv6 default via a gateway, with a metric", (p, i) =>
    routed(
      p,
      i,
      { destination: "default", via: `fd00:100:${i}::1`, metric: 300 },
      [{ route: "default", family: 6, gateway: `fd00:100:${i}::1`, metric: 300 }],
      { v6: true },
    ),
  );
  add("route, on the host itself, device only", (p, i) =>
    routed(
      p,
      i,
      { destination: `10.102.${i}.0/24`, device: `${p}a` },
      [{ route: `10.102.${i}.0/24`, family: 4, dev: `${p}a` }],
      { namespace: false },
    ),
  );
  add("route, 0.0.0.0/0 written for default", (p, i) =>
    routed(p, i, { destination: "0.0.0.0/0", via: `10.100.${i}.1`, metric: 10 }, [
      { route: "default", family: 4, gateway: `10.100.${i}.1`, metric: 10 },
    ]),
  );

  // ---- NatRule: every rule has its own source network
  add("NAT on the host, out of eth0, forwarding default", (p, i) => ({
    decls: [
      {
        kind: "NatRule",
        name: `${p}nat`,
        args: { source: `10.110.${i}.0/24`, outInterface: "eth0" },
      },
    ],
    expect: [
      { rule: `^-A POSTROUTING -s 10\\.110\\.${i}\\.0/24 -o eth0 .*-j MASQUERADE$`, table: "nat" },
      { forwarding: "", value: "1" },
    ],
  }));
  add("NAT on the host, any interface", (p, i) => ({
    decls: [{ kind: "NatRule", name: `${p}nat`, args: { source: `10.110.${i}.0/24` } }],
    expect: [
      {
        rule: `^-A POSTROUTING -s 10\\.110\\.${i}\\.0/24 -m comment .*-j MASQUERADE$`,
        table: "nat",
      },
    ],
  }));
  add("NAT on the host, forwarding false", (p, i) => ({
    decls: [
      {
        kind: "NatRule",
        name: `${p}nat`,
        args: { source: `10.110.${i}.0/24`, outInterface: "eth0", forwarding: false },
      },
    ],
    expect: [
      { rule: `^-A POSTROUTING -s 10\\.110\\.${i}\\.0/24 -o eth0 .*-j MASQUERADE$`, table: "nat" },
    ],
  }));
  add("NAT in a namespace, out of an interface, forwarding true", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      {
        kind: "NatRule",
        name: `${p}nat`,
        args: {
          namespace: ref(`${p}ns`),
          source: `10.110.${i}.0/24`,
          outInterface: "uplink0",
          forwarding: true,
        },
      },
    ],
    expect: [
      {
        rule: `^-A POSTROUTING -s 10\\.110\\.${i}\\.0/24 -o uplink0 .*-j MASQUERADE$`,
        table: "nat",
        in: `${p}ns`,
      },
      { forwarding: `${p}ns`, value: "1" },
    ],
  }));
  add("NAT in a namespace, forwarding false", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      {
        kind: "NatRule",
        name: `${p}nat`,
        args: { namespace: ref(`${p}ns`), source: `10.110.${i}.0/24`, forwarding: false },
      },
    ],
    expect: [
      {
        rule: `^-A POSTROUTING -s 10\\.110\\.${i}\\.0/24 .*-j MASQUERADE$`,
        table: "nat",
        in: `${p}ns`,
      },
      { forwarding: `${p}ns`, value: "0" },
    ],
  }));

  add("NAT on the host with firewall nftables", (p, i) => ({
    decls: [
      {
        kind: "NatRule",
        name: `${p}nat`,
        args: { source: `10.110.${i}.0/24`, outInterface: "eth0", firewall: "nftables" },
      },
    ],
    expect: [
      {
        nftRule: `^ip saddr 10\\.110\\.${i}\\.0/24 oifname "eth0" masquerade comment "linuxnet:nat-[0-9a-f]{8}:fwd"$`,
      },
      { forwarding: "", value: "1" },
    ],
  }));
  add("NAT in a namespace with firewall nftables, forwarding false", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      {
        kind: "NatRule",
        name: `${p}nat`,
        args: {
          namespace: ref(`${p}ns`),
          source: `10.110.${i}.0/24`,
          forwarding: false,
          firewall: "nftables",
        },
      },
    ],
    expect: [
      {
        nftRule: `^ip saddr 10\\.110\\.${i}\\.0/24 masquerade comment "linuxnet:nat-[0-9a-f]{8}"$`,
        in: `${p}ns`,
      },
      { forwarding: `${p}ns`, value: "0" },
    ],
  }));
  add("NAT with firewall auto written out (iptables, where it works)", (p, i) => ({
    decls: [
      {
        kind: "NatRule",
        name: `${p}nat`,
        args: { source: `10.110.${i}.0/24`, firewall: "auto" },
      },
    ],
    expect: [
      {
        rule: `^-A POSTROUTING -s 10\\.110\\.${i}\\.0/24 -m comment .*-j MASQUERADE$`,
        table: "nat",
      },
    ],
  }));
  add("port forward in a namespace with firewall nftables, a range and fromHost", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      {
        kind: "PortForward",
        name: `${p}pf`,
        args: {
          namespace: ref(`${p}ns`),
          hostPort: `${19000 + i}-${19001 + i}`,
          to: `10.111.${i}.2:80`,
          fromHost: true,
          forwarding: false,
          firewall: "nftables",
        },
      },
    ],
    expect: [
      {
        nftRule: `^tcp dport ${19000 + i} dnat ip to 10\\.111\\.${i}\\.2:80 comment "linuxnet:pf-[0-9a-f]{8}"$`,
        in: `${p}ns`,
      },
      {
        nftRule: `^tcp dport ${19001 + i} dnat ip to 10\\.111\\.${i}\\.2:81 comment "linuxnet:pf-[0-9a-f]{8}"$`,
        in: `${p}ns`,
      },
      {
        nftRule: `^fib daddr type local tcp dport ${19000 + i} dnat ip to 10\\.111\\.${i}\\.2:80 comment "linuxnet:pf-[0-9a-f]{8}"$`,
        in: `${p}ns`,
      },
    ],
  }));

  // ---- PortForward: every forward its own host port and target network
  add(
    "port forward on the host, TCP by default, to a namespace on a veth (hairpin rule too)",
    (p, i) => ({
      decls: [
        ns(`${p}ns`),
        uplink(p, i),
        {
          kind: "PortForward",
          name: `${p}pf`,
          args: { hostPort: 18000 + i, to: `10.100.${i}.2:80` },
          dependsOn: [`${p}v`],
        },
      ],
      expect: [
        {
          rule: `^-A PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport ${18000 + i} .*-j DNAT --to-destination 10\\.100\\.${i}\\.2:80$`,
          table: "nat",
        },
        {
          rule: `^-A POSTROUTING -s 10\\.100\\.${i}\\.0/24 -d 10\\.100\\.${i}\\.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT .*-j MASQUERADE$`,
          table: "nat",
        },
        { forwarding: "", value: "1" },
      ],
    }),
  );
  add(
    "port forward in a namespace, every optional input: udp, a range, inInterface, fromHost, forwarding false",
    (p, i) => ({
      decls: [
        ns(`${p}ns`),
        {
          kind: "PortForward",
          name: `${p}pf`,
          args: {
            namespace: ref(`${p}ns`),
            protocol: "udp",
            hostPort: `${18000 + i}-${18002 + i}`,
            to: `10.100.${i}.2:5000`,
            inInterface: "uplink0",
            fromHost: true,
            forwarding: false,
          },
        },
      ],
      expect: [
        {
          rule: `^-A PREROUTING -i uplink0 -p udp .*--dport ${18000 + i}:${18002 + i} .*-j DNAT --to-destination 10\\.100\\.${i}\\.2:5000-5002/${18000 + i}$`,
          table: "nat",
          in: `${p}ns`,
        },
        {
          rule: `^-A OUTPUT ! -d 127\\.0\\.0\\.0/8 -p udp .*--dport ${18000 + i}:${18002 + i} .*-j DNAT`,
          table: "nat",
          in: `${p}ns`,
        },
        { forwarding: `${p}ns`, value: "0" },
      ],
    }),
  );
  add("port forward, every default written out (tcp, fromHost false, forwarding true)", (p, i) => ({
    decls: [
      {
        kind: "PortForward",
        name: `${p}pf`,
        args: {
          protocol: "tcp",
          hostPort: String(18000 + i),
          to: `10.100.${i}.2:8080`,
          fromHost: false,
          forwarding: true,
        },
      },
    ],
    expect: [
      {
        rule: `^-A PREROUTING -p tcp .*--dport ${18000 + i} .*-j DNAT --to-destination 10\\.100\\.${i}\\.2:8080$`,
        table: "nat",
      },
    ],
  }));

  // ---- Sysctl: every setting its own key or namespace (a key is held by one Sysctl)
  add("sysctl in a namespace, dotted key", (p) => ({
    decls: [
      ns(`${p}ns`),
      {
        kind: "Sysctl",
        name: `${p}sc`,
        args: { namespace: ref(`${p}ns`), key: "net.ipv4.conf.all.rp_filter", value: "2" },
      },
    ],
    expect: [{ sysctl: "net/ipv4/conf/all/rp_filter", in: `${p}ns`, value: "2" }],
  }));
  add("sysctl in a namespace, path-form key with a multi-value", (p) => ({
    decls: [
      ns(`${p}ns`),
      {
        kind: "Sysctl",
        name: `${p}sc`,
        args: { namespace: ref(`${p}ns`), key: "net/ipv4/ping_group_range", value: "1000 2000" },
      },
    ],
    expect: [{ sysctl: "net/ipv4/ping_group_range", in: `${p}ns`, value: "1000 2000" }],
  }));
  add("sysctl on the host itself (no namespace)", (p) => ({
    decls: [
      {
        kind: "Sysctl",
        name: `${p}sc`,
        args: { key: "net.ipv4.conf.all.log_martians", value: "1" },
      },
    ],
    expect: [{ sysctl: "net/ipv4/conf/all/log_martians", value: "1" }],
  }));

  // ---- ConnectivityCheck: on paths the same row builds
  add("check, namespace to namespace", (p, i) =>
    checkRow(
      p,
      pair(p, i),
      { from: { namespace: ref(`${p}x`) }, to: { namespace: ref(`${p}y`) } },
      [`${p}v`],
    ),
  );
  add("check, from an address to an address, icmp", (p, i) =>
    checkRow(
      p,
      pair(p, i),
      {
        from: { namespace: ref(`${p}x`), address: `10.100.${i}.1` },
        to: { address: `10.100.${i}.2`, namespace: ref(`${p}y`) },
        protocol: "icmp",
      },
      [`${p}v`],
    ),
  );
  add("check, from the host (no from) to a namespace", (p, i) =>
    checkRow(
      p,
      [ns(`${p}ns`), uplink(p, i)],
      { to: { namespace: ref(`${p}ns`), address: `10.100.${i}.2` } },
      [`${p}v`],
    ),
  );
  add("check, a TCP port (the host's sshd)", (p) =>
    checkRow(p, [], { to: { address: code("lab.host") }, port: 22, protocol: "tcp" }, []),
  );
  add("check, across hosts: to the jump host, given as to.connection", (p) =>
    checkRow(
      p,
      [],
      {
        to: {
          address: code("lab.jumpHost"),
          connection: code("{ host: lab.jumpHost, privateKey: lab.key, hostKey: lab.jumpHostKey }"),
        },
      },
      [],
    ),
  );
  add("check, a port with the protocol left to default", (p, i) =>
    checkRow(
      p,
      [
        ns(`${p}ns`),
        uplink(p, i),
        {
          kind: "Route",
          name: `${p}r`,
          args: { namespace: ref(`${p}ns`), destination: "default", via: `10.100.${i}.1` },
          dependsOn: [`${p}v`],
        },
      ],
      { from: { namespace: ref(`${p}ns`) }, to: { address: code("lab.host") }, port: 22 },
      [`${p}r`],
    ),
  );

  // ---- Vxlan
  add("vxlan, a remote on the fabric, every input written out", (p, i) => ({
    decls: [
      {
        kind: "Vxlan",
        name: `${p}vx`,
        args: {
          name: `${p}vx`,
          vni: 1000 + i,
          remotes: [code("lab.jumpHost")],
          local: code("lab.host"),
          device: "eth0",
          port: 4789,
          mtu: 1400,
          addresses: [v4(i, 1)],
          adopt: false,
        },
      },
    ],
    names: { [`${p}remote`]: code("lab.jumpHost") },
    expect: [
      {
        vxlan: `${p}vx`,
        vni: 1000 + i,
        port: 4789,
        mtu: 1400,
        remotes: [{ output: `${p}remote` }],
        addresses: [v4(i, 1)],
      },
    ],
  }));
  add("vxlan, a port of a bridge, two remotes, MTU derived, another port", (p, i) => ({
    decls: [
      { kind: "Bridge", name: `${p}br`, args: { name: `${p}br` } },
      {
        kind: "Vxlan",
        name: `${p}vx`,
        args: {
          name: `${p}vx`,
          vni: 1000 + i,
          remotes: [code("lab.jumpHost"), `192.0.2.${i}`],
          port: 8472,
          bridge: ref(`${p}br`),
        },
      },
    ],
    names: { [`${p}remote`]: code("lab.jumpHost") },
    expect: [
      {
        vxlan: `${p}vx`,
        vni: 1000 + i,
        port: 8472,
        // The route to the first remote leaves by the fabric's eth0 (1500): 1500 - 50.
        mtu: 1450,
        master: `${p}br`,
        remotes: [{ output: `${p}remote` }, `192.0.2.${i}`],
        addresses: [],
      },
    ],
  }));
  add("vxlan in a namespace, auto-named, no remotes yet", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      {
        kind: "Vxlan",
        name: `${p}vx`,
        args: { vni: 1000 + i, namespace: ref(`${p}ns`), addresses: [v4(i, 1)] },
      },
    ],
    names: { [`${p}vx`]: code(`${p}vx.name`) },
    expect: [
      {
        vxlan: { output: `${p}vx` },
        in: `${p}ns`,
        vni: 1000 + i,
        port: 4789,
        mtu: 1450,
        remotes: [],
        addresses: [v4(i, 1)],
      },
    ],
  }));
  add("vxlan, a multicast group on eth0", (p, i) => ({
    decls: [
      {
        kind: "Vxlan",
        name: `${p}vx`,
        args: { name: `${p}vx`, vni: 1000 + i, group: `239.1.1.${i}`, device: "eth0" },
      },
    ],
    expect: [
      {
        vxlan: `${p}vx`,
        vni: 1000 + i,
        port: 4789,
        mtu: 1450,
        group: `239.1.1.${i}`,
        remotes: [],
        addresses: [],
      },
    ],
  }));
  // ---- LinkShaping: a rate alone (tbf); netem values are in netemMatrix(), since a kernel
  // without sch_netem (the test machines') refuses them at create.
  add("shaping, a rate on a namespace's veth end, device from the pair's output", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      uplink(p, i),
      {
        kind: "LinkShaping",
        name: `${p}sh`,
        args: { namespace: ref(`${p}ns`), device: ref(`${p}v`, "a.name"), rate: "10mbit" },
      },
    ],
    expect: [{ qdisc: `${p}a`, in: `${p}ns`, kind: "tbf", rate: 1_250_000 }],
  }));
  add("shaping, a rate on the host's end, in other units", (p, i) => ({
    decls: [
      ns(`${p}ns`),
      uplink(p, i),
      {
        kind: "LinkShaping",
        name: `${p}sh`,
        args: { device: `${p}b`, rate: "1000kbps" },
        dependsOn: [`${p}v`],
      },
    ],
    expect: [{ qdisc: `${p}b`, kind: "tbf", rate: 1_000_000 }],
  }));

  // ---- Connections other than the stack's default
  for (const [which, connection] of Object.entries(CONNECTIONS)) {
    add(`connection: ${which}`, (p, i) => ({
      decls: [
        { kind: "Namespace", name: `${p}ns`, args: { connection, name: `${p}ns` } },
        uplink(p, i, { connection }),
      ],
      expect: [
        { namespace: `${p}ns` },
        { link: `${p}a`, in: `${p}ns`, type: "veth", up: true, addresses: [v4(i, 2)] },
      ],
    }));
  }
  return rows;
}

/**
 * LinkShaping with every netem value, apart from the matrix: on a kernel with
 * sch_netem they deploy like any row; on one without (the test machines'), `up`
 * must fail naming the module, and leave the host as it was.
 */
export function netemMatrix(): Configuration[] {
  const veth = (p: string, i: number): Decl[] => [
    { kind: "Namespace", name: `${p}ns`, args: { name: `${p}ns` } },
    {
      kind: "VethPair",
      name: `${p}v`,
      args: {
        a: { name: `${p}a`, namespace: ref(`${p}ns`), addresses: [`10.120.${i}.2/24`] },
        b: { name: `${p}b`, addresses: [`10.120.${i}.1/24`] },
      },
    },
  ];
  return [
    {
      label: "n01 shaping, every netem value and a rate",
      decls: [
        ...veth("n01", 1),
        {
          kind: "LinkShaping",
          name: "n01sh",
          args: {
            namespace: ref("n01ns"),
            device: ref("n01v", "a.name"),
            rate: "10mbit",
            delay: "40ms",
            jitter: "5ms",
            loss: 0.5,
            duplicate: 1,
            reorder: 25,
          },
        },
      ],
      expect: [{ qdisc: "n01a", in: "n01ns", kind: "netem", rate: 1_250_000 }],
    },
    {
      label: "n02 shaping, loss alone on the host's end",
      decls: [
        ...veth("n02", 2),
        {
          kind: "LinkShaping",
          name: "n02sh",
          args: { device: "n02b", loss: 2 },
          dependsOn: ["n02v"],
        },
      ],
      expect: [{ qdisc: "n02b", kind: "netem" }],
    },
  ];
}

/** The stack config keys a generated program reads into `lab` (see {@link programSource}). */
export const LAB_CONFIG_KEYS = [
  "host",
  "key",
  "hostKey",
  "fingerprint",
  "encryptedKey",
  "passphrase",
  "agentSocket",
  "sudoUser",
  "jumpHost",
  "jumpHostKey",
  "password",
] as const;

/** The keys of {@link LAB_CONFIG_KEYS} that are secrets. */
export const LAB_SECRET_KEYS: ReadonlySet<string> = new Set([
  "key",
  "encryptedKey",
  "passphrase",
  "password",
]);

function expr(e: Expr | { readonly [key: string]: Expr | undefined }, indent: string): string {
  if (e instanceof Ref) return `${e.resource}.${e.path}`;
  if (e instanceof Code) return e.text;
  if (Array.isArray(e)) return `[${e.map((x) => expr(x, indent)).join(", ")}]`;
  if (typeof e === "object") {
    const inner = `${indent}  `;
    const fields = Object.entries(e)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${inner}${k}: ${expr(v as Expr, inner)},`);
    return fields.length === 0 ? "{}" : `{\n${fields.join("\n")}\n${indent}}`;
  }
  return JSON.stringify(e);
}

/** The `new ...` statement of one declaration. */
function statement(d: Decl): string {
  const deps = d.dependsOn?.length ? `, { dependsOn: [${d.dependsOn.join(", ")}] }` : "";
  return `const ${d.name} = new linuxnet.${d.kind}(${JSON.stringify(d.name)}, ${expr(d.args, "")}${deps});`;
}

/**
 * A Pulumi program that declares every configuration, as a user writes one:
 * TypeScript with `import`, or plain JavaScript (CommonJS) with `require`.
 * Its stack output `names` holds every auto-made name and check result.
 */
export function programSource(configs: readonly Configuration[], language: "ts" | "js"): string {
  const head =
    language === "ts"
      ? `import * as pulumi from "@pulumi/pulumi";\nimport * as linuxnet from "pulumi-linuxnet";\n`
      : `"use strict";\nconst pulumi = require("@pulumi/pulumi");\nconst linuxnet = require("pulumi-linuxnet");\n`;
  const config = `const config = new pulumi.Config();\nconst lab = {\n${LAB_CONFIG_KEYS.map(
    (k) =>
      `  ${k}: config.${LAB_SECRET_KEYS.has(k) ? "requireSecret" : "require"}(${JSON.stringify(k)}),`,
  ).join("\n")}\n};\n`;
  const body = configs
    .map((c) => `// ${c.label}\n${c.decls.map(statement).join("\n")}`)
    .join("\n\n");
  const names = configs.flatMap((c) =>
    Object.entries(c.names ?? {}).map(([k, v]) => `  ${JSON.stringify(k)}: ${v.text},`),
  );
  const exported = `{\n${names.join("\n")}\n}`;
  const tail =
    language === "ts" ? `export const names = ${exported};\n` : `exports.names = ${exported};\n`;
  return `// Generated by test/consumer/matrix.ts: ${configs.length} configurations.\n${head}\n${config}\n${body}\n\n${tail}`;
}

/**
 * The same configurations with every expectation made false (a missing
 * name, a flipped state, an extra address, another metric...): the
 * out-of-band check must report each one, which proves it can fail.
 */
export function falsified(configs: readonly Configuration[]): Configuration[] {
  const missing = (n: ObjectName): ObjectName =>
    typeof n === "string" ? `${n}zz` : { output: `${n.output}-none` };
  const wrong = (e: Expectation): Expectation => {
    if ("namespace" in e) return { namespace: missing(e.namespace) };
    if ("loopback" in e) return { ...e, up: !e.up };
    if ("link" in e) return { ...e, addresses: [...e.addresses, "10.255.255.1/32"] };
    if ("route" in e) return { ...e, metric: (e.metric ?? 0) + 1 };
    if ("rule" in e) return { ...e, rule: `${e.rule}NOT-THERE` };
    if ("nftRule" in e) return { ...e, nftRule: `${e.nftRule}NOT-THERE` };
    if ("forwarding" in e) return { ...e, value: e.value === "1" ? "0" : "1" };
    if ("sysctl" in e) return { ...e, value: `${e.value}9` };
    if ("vxlan" in e) return { ...e, remotes: [...e.remotes, "192.0.2.254"] };
    if ("qdisc" in e) return { ...e, kind: e.kind === "tbf" ? "netem" : "tbf" };
    return { healthy: `${e.healthy}-none` };
  };
  return configs.map((c) => ({ ...c, expect: c.expect.map(wrong) }));
}
