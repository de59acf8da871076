/**
 * The lab stack's addresses, from its subnet: blue and green take the first
 * two host addresses, the bridge (their gateway) the last.
 */

import ipaddr from "ipaddr.js";

/** The addresses the lab stack gives its namespaces and bridge. */
export interface LabAddresses {
  readonly subnet: string;
  readonly blue: string;
  readonly green: string;
  /** The bridge's address with its prefix, e.g. `10.0.0.254/24`. */
  readonly gateway: string;
  /** The bridge's address alone, for routes. */
  readonly gatewayAddress: string;
}

/** Lays out the lab on an IPv4 subnet of at least four addresses. */
export function labAddresses(subnet: string): LabAddresses {
  const [net, prefix] = ipaddr.IPv4.parseCIDR(subnet);
  if (prefix > 29) throw new Error(`subnet: ${subnet} is too small for the lab (at most /29)`);
  const base = ipaddr.IPv4.networkAddressFromCIDR(subnet).toByteArray();
  if (net.toString() !== ipaddr.IPv4.networkAddressFromCIDR(subnet).toString()) {
    throw new Error(`subnet: ${subnet} has host bits set`);
  }
  const at = (offset: number) => {
    const n = ((base[0]! << 24) | (base[1]! << 16) | (base[2]! << 8) | base[3]!) + offset;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  };
  const last = 2 ** (32 - prefix) - 2;
  return {
    subnet,
    blue: `${at(1)}/${prefix}`,
    green: `${at(2)}/${prefix}`,
    gateway: `${at(last)}/${prefix}`,
    gatewayAddress: at(last),
  };
}
