/**
 * PortForward: reach a service inside a namespace from outside. Traffic for
 * one of the host's own addresses on `hostPort` (a port, or a range mapped
 * onto a range as long at `to`) is DNATed to `to`, as CNI's portmap and
 * Docker do it:
 *
 * - `incoming`: `nat PREROUTING`, for traffic that arrives from a network
 *   (only on `inInterface` when given), `-m addrtype --dst-type LOCAL` so that
 *   traffic the host merely routes past keeps its port;
 * - `local` (with `fromHost`): `nat OUTPUT`, for connections the host itself
 *   opens to one of its own addresses. Not to 127.0.0.1: a connection from a
 *   loopback address rerouted to another interface is dropped as a martian
 *   unless `route_localnet` is set on that interface (and its source NATed),
 *   a setting of an interface that is not ours to change; use the host's
 *   address on a network instead;
 * - `hairpin`: when `to` is on a network directly connected where the rules
 *   live (a bridge), connections forwarded from that same network are
 *   masqueraded, or the target would answer its neighbour directly from an
 *   address the neighbour never spoke to.
 *
 * Every rule is tagged `linuxnet:<id>` (with `:fwd` when it needs forwarding)
 * and found and removed by that tag only. Forwarding is handled as NatRule
 * does, by the same code (forwarding.ts): recorded by the first of our rules
 * that turns it on, put back by the last to go. A rule deleted behind our
 * back makes the next refresh ask for an update, which puts the rules back;
 * all of them gone is the forward gone.
 */

import * as pulumi from "@pulumi/pulumi";
import { randomBytes } from "node:crypto";
import { ValidationError } from "../errors";
import type { ConnectionArgs } from "../transport/connection";
import type { Host } from "../transport";
import { ipArgv, parseJsonList } from "../host/ip";
import { liveReader } from "../host/reader";
import {
  type Firewall,
  type FirewallBackend,
  type FirewallChoice,
  type PortMapping,
  chooseFirewall,
  firewallFor,
  tagged,
} from "../firewall";
import { LinuxnetResource } from "./program";
import { withLock } from "./lock";
import { type BaseInputs, transactional } from "./kind";
import { type FieldType, bool, checked, connection, declareKind, firewallField } from "./declare";
import { forwardingLockKey, holdForwarding, releaseForwarding } from "./forwarding";
import {
  interfaceNameProblem,
  isUnknown,
  namespaceNameProblem,
  parseAddress,
  shown,
} from "./validate";
import ipaddr from "ipaddr.js";

/** Inputs of a PortForward, as the provider sees them. */
export interface PortForwardInputs extends BaseInputs {
  /** Where the rules live; the host itself when unset. */
  readonly namespace?: string;
  readonly protocol: "tcp" | "udp";
  /** `8080`, or a range `"8000-8010"`. */
  readonly hostPort: number | string;
  /** `10.0.0.2:80`: the first target port of a range. */
  readonly to: string;
  readonly inInterface?: string;
  readonly fromHost: boolean;
  readonly forwarding: boolean;
  /** The firewall backend asked for; `auto` (decided at create). */
  readonly firewall?: FirewallChoice;
}

/** Outputs of a PortForward. */
export interface PortForwardOutputs extends PortForwardInputs {
  /** The comment tag on the rules. */
  readonly tag: string;
  /** `ip_forward` as it was before the first of our rules there turned it on (0 or 1). */
  readonly forwardingBefore?: 0 | 1;
  /** The network masqueraded for hairpin traffic: `to`'s connected network; unset when none. */
  readonly hairpinSource?: string;
  /** False when a refresh found some of the rules gone: the next `up` puts them back. */
  readonly rulesIntact: boolean;
  /** The backend the rules were made with; unset in state from before the choice existed: iptables. */
  readonly firewallBackend?: FirewallBackend;
}

/** A port range, `[first, last]`, or a string that says what is wrong with the value. */
export function parseHostPort(value: unknown): [number, number] | string {
  const port = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (typeof value === "number") {
    return port(value) ? [value, value] : `must be a port from 1 to 65535, got ${shown(value)}`;
  }
  if (typeof value !== "string") {
    return `must be a port (8080) or a range ("8000-8010"), got ${shown(value)}`;
  }
  const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(value);
  if (!m) return `must be a port (8080) or a range ("8000-8010"), got ${JSON.stringify(value)}`;
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  if (!port(first) || !port(last)) {
    return `must be ports from 1 to 65535, got ${JSON.stringify(value)}`;
  }
  if (last < first) return `must be a range from low to high, got ${JSON.stringify(value)}`;
  return [first, last];
}

/** `to`: an IPv4 address and a port; a string says what is wrong. */
export function parseTarget(value: unknown): { address: string; port: number } | string {
  if (typeof value !== "string")
    return `must be "address:port", like "10.0.0.2:80", got ${shown(value)}`;
  const at = value.lastIndexOf(":");
  if (at < 0)
    return `must have a port: "address:port", like "10.0.0.2:80", got ${JSON.stringify(value)}`;
  const address = parseAddress(value.slice(0, at));
  if (typeof address === "string") return `must be "address:port" whose address ${address}`;
  if (address.family !== "inet") {
    return "must be an IPv4 address and port (the rules are iptables, not ip6tables)";
  }
  const portText = value.slice(at + 1);
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    return `must end in a port from 1 to 65535, got ${JSON.stringify(value)}`;
  }
  const range = ipaddr.parse(address.address).range();
  if (range === "loopback" || range === "multicast" || range === "broadcast") {
    return `must not be a ${range} address, got ${JSON.stringify(value)}`;
  }
  return { address: address.address, port };
}

/** The mapping of checked inputs. */
export function mappingOf(inputs: PortForwardInputs): PortMapping {
  const hostPorts = parseHostPort(inputs.hostPort);
  const target = parseTarget(inputs.to);
  if (typeof hostPorts === "string" || typeof target === "string") {
    throw new Error(`PortForward: inputs not checked: ${String(hostPorts)} ${String(target)}`);
  }
  return {
    protocol: inputs.protocol,
    hostPorts,
    toAddress: target.address,
    toPort: target.port,
    ...(inputs.inInterface ? { inInterface: inputs.inInterface } : {}),
  };
}

/** hostPort: normalised to a number for one port, `"first-last"` for a range; required. */
const hostPortField: FieldType = {
  check(value, ctx) {
    if (value === undefined || value === null) {
      ctx.checker.fail(ctx.path, `is required: a port (8080) or a range ("8000-8010")`);
      return undefined;
    }
    if (isUnknown(value)) return undefined;
    const ports = parseHostPort(value);
    if (typeof ports === "string") {
      ctx.checker.fail(ctx.path, ports);
      return undefined;
    }
    return ports[0] === ports[1] ? ports[0] : `${ports[0]}-${ports[1]}`;
  },
};

/** to: normalised `address:port`; the target range must fit below 65536. */
const toField: FieldType = {
  check(value, ctx) {
    if (value === undefined || value === null) {
      ctx.checker.fail(ctx.path, `is required: "address:port", like "10.0.0.2:80"`);
      return undefined;
    }
    if (isUnknown(value)) return undefined;
    const target = parseTarget(value);
    if (typeof target === "string") {
      ctx.checker.fail(ctx.path, target);
      return undefined;
    }
    const ports = parseHostPort(ctx.out.hostPort);
    if (typeof ports !== "string" && target.port + ports[1] - ports[0] > 65535) {
      ctx.checker.fail(
        ctx.path,
        `maps the ${ports[1] - ports[0] + 1} ports of hostPort to ${target.port}-${target.port + ports[1] - ports[0]}, past 65535`,
      );
      return undefined;
    }
    return `${target.address}:${target.port}`;
  },
};

/** protocol: `tcp` (when omitted) or `udp`. */
const protocolField: FieldType = {
  check(value, ctx) {
    if (value === undefined || value === null) return "tcp";
    if (isUnknown(value)) return undefined;
    if (value !== "tcp" && value !== "udp") {
      ctx.checker.fail(ctx.path, `must be "tcp" or "udp", got ${shown(value)}`);
    }
    return undefined;
  },
};

function baseTag(id: string): string {
  return `linuxnet:${id}`;
}

/**
 * The network `address` is on, when it is directly connected where the rules
 * live (no gateway on the way): the longest such route of the main table.
 * Equivalent to: `ip [-n NS] -4 -json route show table main`
 */
export async function connectedNetwork(
  host: Host,
  namespace: string | undefined,
  address: string,
): Promise<string | undefined> {
  const r = await host.runOk(ipArgv(namespace, "-4", "-json", "route", "show", "table", "main"));
  return connectedNetworkOf(parseJsonList(r.stdout), address);
}

/** The longest directly connected route's network that holds `address`. Pure. */
export function connectedNetworkOf(
  routes: readonly { dst: string; gateway?: string }[],
  address: string,
): string | undefined {
  const addr = ipaddr.IPv4.parse(address);
  let best: [string, number] | undefined;
  for (const route of routes) {
    if (route.gateway || !route.dst.includes("/")) continue;
    const [net, len] = ipaddr.IPv4.parseCIDR(route.dst);
    if (len < 8 || !addr.match(net, len)) continue;
    if (!best || len > best[1]) best = [`${net.toString()}/${len}`, len];
  }
  return best?.[0];
}

/**
 * Refuses a forward that would catch the SSH connections this provider makes
 * to the host: on the host itself, on every interface, over the connection's
 * port. Once in place, the next `up` or `destroy` would dial the target instead
 * of the host, and the rule could no longer be removed by the stack.
 */
export function refuseOwnSshPort(inputs: PortForwardInputs): void {
  if (inputs.namespace !== undefined || inputs.inInterface !== undefined) return;
  if (inputs.protocol !== "tcp") return;
  const sshPort = (inputs.connection as { port?: unknown } | undefined)?.port ?? 22;
  const span = parseHostPort(inputs.hostPort);
  if (!Array.isArray(span) || typeof sshPort !== "number") return;
  if (sshPort >= span[0] && sshPort <= span[1]) {
    throw new ValidationError([
      {
        property: "hostPort",
        reason: `holds ${sshPort}, the SSH port this provider reaches the host on: forwarded on every interface, it would take over the stack's own connection; give inInterface, a namespace, or another port`,
      },
    ]);
  }
}

/** Adds every rule of a forward, tagged `tag`. */
async function addRules(
  firewall: Firewall,
  host: Host,
  props: PortForwardInputs & { readonly hairpinSource?: string },
  tag: string,
): Promise<void> {
  const ns = props.namespace;
  const mapping = mappingOf(props);
  await firewall.addDnat(host, ns, mapping, "incoming", tag);
  if (props.fromHost) await firewall.addDnat(host, ns, mapping, "local", tag);
  if (props.hairpinSource) await firewall.addHairpin(host, ns, mapping, props.hairpinSource, tag);
}

/** The PortForward kind: its inputs as declared, and its lifecycle. */
export const portForwardKind = declareKind<PortForwardInputs, PortForwardOutputs>({
  name: "PortForward",
  // Every field of the rules replaces them: a new tag is added before the old goes, no gap.
  fields: {
    connection: connection("replace-on-host"),
    namespace: { type: checked(namespaceNameProblem), change: "replace" },
    protocol: { type: protocolField, change: "replace" },
    hostPort: { type: hostPortField, change: "replace" },
    to: { type: toField, change: "replace" },
    inInterface: { type: checked(interfaceNameProblem), change: "replace" },
    fromHost: { type: bool(false), change: "replace" },
    forwarding: { type: bool(true), change: "replace" },
    firewall: firewallField("replace"),
  },
  outputs: ["tag", "forwardingBefore", "hairpinSource", "rulesIntact", "firewallBackend"],
  snapshotRead: true,
  deleteBeforeReplace: false,
  // Rules found missing at refresh: an update puts them back.
  stale: (olds) => olds.rulesIntact === false,

  idOf: () => `pf-${randomBytes(4).toString("hex")}`,

  async create(host, inputs, id) {
    const ns = inputs.namespace;
    refuseOwnSshPort(inputs);
    const firewallBackend = await chooseFirewall(host, inputs.firewall);
    const firewall = firewallFor(firewallBackend);
    return withLock(forwardingLockKey(host.name, ns), () =>
      transactional(async (undo) => {
        const tag = inputs.forwarding ? `${baseTag(id)}:fwd` : baseTag(id);
        // A namespace that is not there fails here, with the kernel's words, before anything changes.
        const mapping = mappingOf(inputs);
        const hairpinSource = await connectedNetwork(host, ns, mapping.toAddress);
        let forwardingBefore: 0 | 1 | undefined;
        if (inputs.forwarding) forwardingBefore = await holdForwarding(host, ns, undo);
        undo(() => firewall.deletePortRules(host, ns, baseTag(id)));
        await addRules(firewall, host, { ...inputs, hairpinSource }, tag);
        const rules = (await firewall.portRules(liveReader(host), ns)) ?? [];
        const ours = rules.filter((r) => tagged(r, baseTag(id)));
        const expected = 1 + (inputs.fromHost ? 1 : 0) + (hairpinSource ? 1 : 0);
        if (ours.length !== expected) {
          throw new Error(
            `on ${host.name}: the port forward's rules ${tag} were added but ${ours.length} of ${expected} read back`,
          );
        }
        return {
          ...inputs,
          tag,
          forwardingBefore,
          hairpinSource,
          rulesIntact: true,
          firewallBackend,
        };
      }),
    );
  },

  async read(reader, id, props) {
    const rules = await firewallFor(props.firewallBackend).portRules(reader, props.namespace);
    const ours = (rules ?? []).filter((r) => tagged(r, baseTag(id)));
    if (ours.length === 0) return undefined;
    const incoming = ours.find((r) => r.hook === "incoming");
    // A backend may hold a range as one rule per port (nftables): all of them must be there.
    const span = parseHostPort(props.hostPort);
    const whole = Array.isArray(span)
      ? span[0] === span[1]
        ? `${span[0]}`
        : `${span[0]}-${span[1]}`
      : undefined;
    const local = ours.find((r) => r.hook === "local");
    const intact =
      incoming !== undefined &&
      (!props.fromHost || (local !== undefined && (!whole || local.hostPort === whole))) &&
      (!props.hairpinSource || ours.some((r) => r.hook === "hairpin"));
    // Forwarding turned off behind our back is drift: `up` replaces the forward, which turns it on.
    const forwarding = props.forwarding ? (await reader.ipForward(props.namespace)) === 1 : false;
    const seen = incoming
      ? {
          protocol: (incoming.protocol ?? props.protocol) as "tcp" | "udp",
          hostPort: incoming.hostPort?.includes("-")
            ? incoming.hostPort
            : Number(incoming.hostPort ?? props.hostPort),
          to: incoming.to ?? props.to,
          inInterface: incoming.inInterface,
        }
      : {};
    return { ...props, ...seen, forwarding, rulesIntact: intact };
  },

  async update(host, id, olds, news) {
    // Every field replaces; an update is a changed connection, or rules to put back after drift.
    const outs = {
      ...news,
      tag: olds.tag,
      forwardingBefore: olds.forwardingBefore,
      firewallBackend: olds.firewallBackend,
    };
    const hairpinSource = olds.hairpinSource;
    const firewall = firewallFor(olds.firewallBackend);
    if (olds.rulesIntact === false) {
      await withLock(forwardingLockKey(host.name, news.namespace), async () => {
        await firewall.deletePortRules(host, news.namespace, baseTag(id));
        await addRules(firewall, host, { ...news, hairpinSource }, olds.tag);
      });
    }
    return { ...outs, hairpinSource, rulesIntact: true };
  },

  async delete(host, id, props) {
    const ns = props.namespace;
    return withLock(forwardingLockKey(host.name, ns), async () => {
      await firewallFor(props.firewallBackend).deletePortRules(host, ns, baseTag(id));
      // Read again after our own rules went: what is left is what still needs forwarding.
      if (props.forwarding) await releaseForwarding(host, ns, baseTag(id));
    });
  },
});

/**
 * Arguments of a {@link PortForward}. Every field replaces the forward when
 * it changes. Each forward is tagged with its own fresh id, so the new rules
 * are added before the old ones are removed: no gap in between.
 */
export interface PortForwardArgs {
  /**
   * The host to build on, `{ host: "10.1.0.2", privateKey: key }`; the stack's `linuxnet:*` config
   * when omitted. A changed `host` replaces the forward; any other change updates the stored
   * connection in place (see {@link ConnectionArgs}).
   */
  connection?: pulumi.Input<ConnectionArgs>;
  /**
   * The namespace the rules live in (a router namespace whose addresses
   * receive the traffic): `router.name`. The host itself when omitted.
   * Changing it replaces the forward.
   */
  namespace?: pulumi.Input<string>;
  /** `"tcp"` (when omitted) or `"udp"`. Changing it replaces the forward. */
  protocol?: pulumi.Input<"tcp" | "udp">;
  /**
   * The port on the host's own addresses: `8080`, or a range `"8000-8010"`,
   * which maps onto as many ports from `to`'s (8000 to 80, 8001 to 81, ...).
   * Required. Changing it replaces the forward.
   */
  hostPort: pulumi.Input<number | string>;
  /**
   * Where to: an IPv4 address and a port, `"10.0.0.2:80"` (the port is
   * required; for a range, the first of the target ports). Required.
   * Changing it replaces the forward.
   */
  to: pulumi.Input<string>;
  /**
   * Only traffic arriving on this interface: `"eth0"`. Any interface when
   * omitted. Changing it replaces the forward.
   */
  inInterface?: pulumi.Input<string>;
  /**
   * Also forward connections the host itself opens to one of its own
   * addresses (not 127.0.0.1: see the class). False when omitted. Changing
   * it replaces the forward.
   */
  fromHost?: pulumi.Input<boolean>;
  /**
   * Turn on `net.ipv4.ip_forward` where the rules live while they exist, as
   * NatRule does (and with it: the first of our rules there records the
   * value found, the last to go puts it back). True when omitted; `false`
   * where something else manages forwarding. Changing it replaces the forward.
   */
  forwarding?: pulumi.Input<boolean>;
  /**
   * The firewall that holds the rules: `"iptables"` (tagged rules in the
   * `nat` table), `"nftables"` (tagged rules in our own table `inet linuxnet`,
   * one DNAT rule per host port, removed with our last rule), or `"auto"`:
   * iptables where the `iptables` command works, else nftables; decided once,
   * at create, and kept in the `firewallBackend` output. The stack's
   * `linuxnet:firewall` when omitted, else `"auto"`. Changing it replaces the forward.
   */
  firewall?: pulumi.Input<"auto" | "iptables" | "nftables">;
}

/**
 * A port on the host's own addresses forwarded to a service inside a
 * namespace (DNAT), also for the host's own connections with `fromHost`, and
 * for neighbours on the target's own bridge (hairpin masquerade).
 * Equivalent to: `iptables -w -t nat -A PREROUTING -p tcp -m addrtype --dst-type LOCAL --dport 8080 -m comment --comment linuxnet:ID -j DNAT --to-destination 10.0.0.2:80`
 */
export class PortForward extends LinuxnetResource {
  /** `"tcp"` or `"udp"`. */
  declare readonly protocol: pulumi.Output<"tcp" | "udp">;
  /** The host port (a number) or range (`"8000-8010"`), as the rule on the host has it. */
  declare readonly hostPort: pulumi.Output<number | string>;
  /** The target, as the rule on the host has it: `"10.0.0.2:80"`. */
  declare readonly to: pulumi.Output<string>;
  /** The comment tag that marks the rules on the host. */
  declare readonly tag: pulumi.Output<string>;
  /** The network whose forwarded connections to the target are masqueraded (hairpin); undefined for none. */
  declare readonly hairpinSource: pulumi.Output<string | undefined>;
  /** False when the last refresh found some of the rules gone: the next `up` puts them back. */
  declare readonly rulesIntact: pulumi.Output<boolean>;
  /** The firewall asked for: `"auto"`, `"iptables"` or `"nftables"`. */
  declare readonly firewall: pulumi.Output<string>;
  /** The backend the rules were made with, `"iptables"` or `"nftables"`, as decided at create. */
  declare readonly firewallBackend: pulumi.Output<string>;
  /**
   * @param name - The resource's name in the stack.
   * @param args - The forward: `hostPort` and `to`, and optionally the others.
   * @param opts - Pulumi resource options (`dependsOn`, `deletedWith`, ...).
   */
  constructor(name: string, args: PortForwardArgs, opts?: pulumi.CustomResourceOptions) {
    super(portForwardKind, name, args, opts);
  }
}
