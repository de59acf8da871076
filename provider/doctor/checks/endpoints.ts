/**
 * The endpoints: the source namespace exists, and the destination resolves to
 * an address (in a namespace of this host, or beyond it).
 * Checks `source.namespace` and `destination`.
 */

import { isLoopback } from "../evidence";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";
import { adminUp, namespaceOf } from "../world";

/** `source.namespace`: the namespace the packet starts from exists. */
export function checkSourceNamespace(w: WalkState): boolean {
  const ns = w.srcNs;
  const names = w.world.namespaces.filter((n) => n.name !== undefined).map((n) => n.name);
  if (ns !== undefined && !namespaceOf(w.world, ns)) {
    record(
      w,
      "fail",
      "source.namespace",
      ns,
      `namespace ${ns} exists`,
      `$ ip netns list\n${names.join("\n") || "(none)"}\n${ns} is not among them`,
    );
    return false;
  }
  pass(
    w,
    "source.namespace",
    ns,
    ns ? `namespace ${ns} exists` : "the source is the host's own namespace",
    ns ? `ip netns list: ${names.join(", ")}` : "no namespace given",
  );
  return true;
}

/** `destination`: sets the destination address, and its namespace when it is on this host. */
export function resolveDestination(w: WalkState): boolean {
  const want = w.request.to;
  if (want.namespace !== undefined) {
    const state = namespaceOf(w.world, want.namespace);
    if (!state) {
      const names = w.world.namespaces.filter((n) => n.name).map((n) => n.name);
      record(
        w,
        "fail",
        "destination",
        want.namespace,
        `namespace ${want.namespace} exists`,
        `$ ip netns list\n${names.join("\n") || "(none)"}\n${want.namespace} is not among them`,
      );
      return false;
    }
    const addrs = state.links
      .filter((l) => !isLoopback(l))
      .flatMap((l) => l.inet.map((a) => ({ link: l, a })));
    if (want.address !== undefined) {
      if (!state.links.some((l) => l.inet.some((a) => a.address === want.address))) {
        record(
          w,
          "fail",
          "destination",
          want.namespace,
          `${want.address} is an address in ${want.namespace}`,
          `${want.namespace} has ${addrs.map(({ link, a }) => `${a.address}/${a.prefixlen} on ${link.name}`).join(", ") || "no IPv4 address"}`,
        );
        return false;
      }
      w.dst = want.address;
    } else {
      const pick = addrs.find(({ link }) => adminUp(link)) ?? addrs[0];
      if (!pick) {
        record(
          w,
          "fail",
          "destination",
          want.namespace,
          `${want.namespace} has an IPv4 address to reach`,
          `${want.namespace} has no IPv4 address on any interface but lo`,
        );
        return false;
      }
      w.dst = pick.a.address;
    }
    w.dstNs = want.namespace;
    w.dstOnHost = true;
    pass(
      w,
      "destination",
      want.namespace,
      `${w.dst} is in ${want.namespace}`,
      addrs.map(({ link, a }) => `${link.name} ${a.address}/${a.prefixlen}`).join(", "),
    );
    return true;
  }
  w.dst = want.address!;
  const owners = w.world.namespaces.flatMap((n) =>
    n.links.filter((l) => l.inet.some((a) => a.address === w.dst)),
  );
  if (owners.length > 0) {
    w.dstOnHost = true;
    w.dstNs = owners[0]!.namespace;
    pass(
      w,
      "destination",
      w.dstNs,
      `${w.dst} is on this host`,
      owners.map((l) => `${l.name} in ${nsLabel(l.namespace)}`).join(", "),
    );
  } else {
    pass(
      w,
      "destination",
      null,
      `${w.dst} is beyond this host`,
      `no interface in any namespace of ${w.host.name} has ${w.dst}: the path must leave the host`,
    );
  }
  w.pathAddresses.add(w.dst);
  return true;
}

/** True when a link of `ns` holds the destination address. */
export function ownsDestination(w: WalkState, ns: string | undefined): boolean {
  return (namespaceOf(w.world, ns)?.links ?? []).some((l) =>
    l.inet.some((a) => a.address === w.dst),
  );
}
