/**
 * The picture `linuxnet graph` draws: namespaces, interfaces, veth pairs,
 * bridge ports, routes and NAT, whatever it was built from (a live host, see
 * `live.ts`, or a stack's state, see `stack.ts`) and however it is drawn
 * (`mermaid.ts`, `svg.ts`).
 */

/** An interface in the picture. */
export interface GraphInterface {
  /** Unique in the picture: `<namespace>/<name>`, with an empty namespace for the host's (`"/br0"`). */
  readonly id: string;
  /** Its namespace; undefined for the host's own. */
  readonly namespace?: string;
  /** The interface name: `"veth-blue"`. */
  readonly name: string;
  /** What to draw it as; `other` is anything neither a veth nor a bridge (a NIC, a tunnel). */
  readonly kind: "veth" | "bridge" | "other";
  /** Its addresses in CIDR form: `["10.0.0.1/24"]`. */
  readonly addresses: readonly string[];
  /** Administratively up; undefined when the source does not say. */
  readonly up?: boolean;
  /** Leads off the host (a NIC, a veth into a namespace with no name). */
  readonly external?: boolean;
  /** How its outgoing traffic is shaped (a LinkShaping): `"10mbit"`, `"delay 40ms, loss 0.5%"`. */
  readonly shaping?: string;
}

/** A line between two nodes. */
export interface GraphEdge {
  /** A node's id: an interface's {@link GraphInterface.id} or a NAT rule's {@link GraphNat.id}. */
  readonly from: string;
  /** The other node's id. */
  readonly to: string;
  /**
   * `veth`: the two ends of a pair (the end in a named namespace first);
   * `port`: an interface to its bridge; `nat`: a rule to its outgoing interface;
   * `tunnel`: a VXLAN device to a remote host (or multicast group) of its segment.
   */
  readonly kind: "veth" | "port" | "nat" | "tunnel";
  /** What the line says, when more than its kind: `vxlan vni 42`. */
  readonly label?: string;
}

/** A route worth drawing (not the kernel's own connected routes). */
export interface GraphRoute {
  /** The namespace whose table holds it; undefined for the host's own. */
  readonly namespace?: string;
  /** `"default"` or a network: `"10.1.0.0/16"`. */
  readonly destination: string;
  /** The gateway, if any. */
  readonly via?: string;
  /** The outgoing interface, if known. */
  readonly dev?: string;
}

/** A source-NAT rule. */
export interface GraphNat {
  /** Unique in the picture: `nat:<namespace>:<index>`. */
  readonly id: string;
  /** The namespace the rule lives in; undefined for the host's own. */
  readonly namespace?: string;
  /** The source network it matches; undefined for any. */
  readonly source?: string;
  /** The interface it matches on the way out; undefined for any. */
  readonly outInterface?: string;
  /** `"MASQUERADE"` or `"SNAT"`. */
  readonly target: string;
}

/** The whole picture. */
export interface Topology {
  /** A caption: `"host 10.1.0.2"` for a live host; for a stack, the title given. */
  readonly title: string;
  /** Namespace names; undefined is the host's own. */
  readonly namespaces: readonly (string | undefined)[];
  /** Every interface but loopback. */
  readonly interfaces: readonly GraphInterface[];
  /** Veth pairs, bridge ports and NAT rules' ways out. */
  readonly edges: readonly GraphEdge[];
  /** The routes, less the kernel's own connected ones. */
  readonly routes: readonly GraphRoute[];
  /** The source-NAT rules. */
  readonly nat: readonly GraphNat[];
}

/** An interface's id in the picture. */
export function ifId(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

/** A route as a label: `default via 10.0.0.254 dev veth-blue`. */
export function routeText(r: GraphRoute): string {
  return `${r.destination}${r.via ? ` via ${r.via}` : ""}${r.dev ? ` dev ${r.dev}` : ""}`;
}

/** A NAT rule as a label: `MASQUERADE 10.0.0.0/24 out eth0`. */
export function natText(n: GraphNat): string {
  return `${n.target} ${n.source ?? "any"}${n.outInterface ? ` out ${n.outInterface}` : ""}`;
}
