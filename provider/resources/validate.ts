/**
 * Input rules shared by every resource kind: interface and namespace names,
 * addresses and networks, MTUs. Pure: no I/O. Each check returns the failures
 * it found, naming the field and the rule.
 */

import ipaddr from "ipaddr.js";
import type { ValidationFailure } from "../errors";

/**
 * The placeholder the engine passes for a value not known yet (during preview,
 * an address a cloud VM has not been given). Checks let it through.
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True for the engine's "not known yet" placeholder. */
export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/**
 * A value as a failure shows it: JSON, except what JSON would misreport
 * (NaN and Infinity print as null in JSON, undefined as nothing).
 */
export function shown(value: unknown): string {
  if (typeof value === "number" || value === undefined) return String(value);
  return JSON.stringify(value) ?? typeof value;
}

/** Collects failures for one resource's inputs. */
export class Checker {
  readonly failures: ValidationFailure[] = [];
  fail(property: string, reason: string): void {
    this.failures.push({ property, reason });
  }
}

/** The kernel's limit on interface names (IFNAMSIZ 16, less the NUL). */
export const MAX_INTERFACE_NAME_BYTES = 15;

/** Why `name` cannot be a Linux interface name, or undefined when it can. */
export function interfaceNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return `must be a string, got ${typeof name}`;
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes === 0) return "must not be empty";
  if (bytes > MAX_INTERFACE_NAME_BYTES) {
    return `must be at most ${MAX_INTERFACE_NAME_BYTES} bytes (the kernel's IFNAMSIZ), got ${bytes}`;
  }
  if (name === "." || name === "..") return `must not be "." or ".."`;
  // The kernel refuses only '/', ':' and white space (dev_valid_name). We keep to the characters that
  // survive every tool on the way (ip, iptables, where '+' is a wildcard, and shells), as CNI does.
  const bad = /[^A-Za-z0-9_.-]/.exec(name);
  if (bad)
    return `must contain only letters, digits, "_", "." and "-", not ${describeChar(bad[0])}`;
  if (name.startsWith("-")) return `must not start with "-" (it would read as an option)`;
  return undefined;
}

/**
 * Why `name` cannot be a network namespace name for `ip netns`, or undefined.
 * It is a file name under /run/netns, so the rule is that of a file name, kept
 * to a portable character set.
 */
export function namespaceNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return `must be a string, got ${typeof name}`;
  if (name.length === 0) return "must not be empty";
  if (Buffer.byteLength(name, "utf8") > 64) return "must be at most 64 bytes";
  if (name === "." || name === "..") return `must not be "." or ".."`;
  const bad = /[^A-Za-z0-9_.-]/.exec(name);
  if (bad)
    return `must contain only letters, digits, "_", "." and "-", not ${describeChar(bad[0])}`;
  if (name.startsWith("-")) return `must not start with "-" (it would read as an option)`;
  return undefined;
}

function describeChar(c: string): string {
  if (/\s/.test(c)) return `white space (${JSON.stringify(c)})`;
  const code = c.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f)
    return `a control character (U+${code.toString(16).padStart(4, "0")})`;
  if (code > 0x7e) return `the non-ASCII character ${JSON.stringify(c)}`;
  return JSON.stringify(c);
}

/** An interface address with its prefix, as `ip addr add` takes it: `10.0.0.1/24`. */
export interface InterfaceAddress {
  readonly address: string;
  readonly prefixLength: number;
  readonly family: "inet" | "inet6";
}

/**
 * Parses an interface address in CIDR form (`10.0.0.1/24`, `fd00::1/64`) with
 * ipaddr.js. The address must be usable on an interface: not the network or
 * broadcast address of its IPv4 subnet (except in /31 and /32), not
 * unspecified, not multicast.
 */
export function parseInterfaceAddress(value: unknown): InterfaceAddress | string {
  if (typeof value !== "string") return `must be a string like "10.0.0.1/24", got ${typeof value}`;
  if (value.includes("%"))
    return `must not carry a zone index ("%..."): ip(8) does not take one, got ${JSON.stringify(value)}`;
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(value);
  } catch {
    return `must be an address with a prefix length, like "10.0.0.1/24", got ${JSON.stringify(value)}`;
  }
  const [addr, prefixLength] = parsed;
  if (addr.toString() !== value.split("/")[0] && addr.kind() === "ipv4") {
    // ipaddr.js accepts "10.1" and octal-looking forms that ip(8) reads differently.
    return `must be written in dotted-quad form, got ${JSON.stringify(value)}`;
  }
  const range = addr.range();
  if (range === "unspecified") return `must not be the unspecified address (${addr.toString()})`;
  if (range === "multicast") return `must not be a multicast address (${addr.toString()})`;
  if (addr.kind() === "ipv4" && prefixLength < 31) {
    const v4 = addr as ipaddr.IPv4;
    const network = ipaddr.IPv4.networkAddressFromCIDR(value).toString();
    const broadcast = ipaddr.IPv4.broadcastAddressFromCIDR(value).toString();
    if (v4.toString() === network) {
      return `is the network address of ${network}/${prefixLength}, not a host address in it`;
    }
    if (v4.toString() === broadcast) {
      return `is the broadcast address of ${network}/${prefixLength}, not a host address in it`;
    }
  }
  return {
    address: addr.toString(),
    prefixLength,
    family: addr.kind() === "ipv4" ? "inet" : "inet6",
  };
}

/** A network in CIDR form, normalised: `10.0.0.0/24`. */
export interface Network {
  readonly cidr: string;
  readonly family: "inet" | "inet6";
}

/**
 * Parses a network (`10.0.0.0/24`); host bits must be zero, as `ip route`
 * and `iptables -s` would otherwise silently change what the user meant.
 */
export function parseNetwork(value: unknown): Network | string {
  if (typeof value !== "string") return `must be a network like "10.0.0.0/24", got ${typeof value}`;
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(value);
  } catch {
    return `must be a network in CIDR form, like "10.0.0.0/24", got ${JSON.stringify(value)}`;
  }
  const [addr, prefixLength] = parsed;
  const network =
    addr.kind() === "ipv4"
      ? ipaddr.IPv4.networkAddressFromCIDR(value)
      : ipaddr.IPv6.networkAddressFromCIDR(value);
  if (network.toString() !== addr.toString()) {
    return `has host bits set: did you mean "${network.toString()}/${prefixLength}"?`;
  }
  if (addr.kind() === "ipv4" && addr.toString() !== value.split("/")[0]) {
    return `must be written in dotted-quad form, got ${JSON.stringify(value)}`;
  }
  return {
    cidr: `${network.toString()}/${prefixLength}`,
    family: addr.kind() === "ipv4" ? "inet" : "inet6",
  };
}

/** Parses a plain address (a gateway): `10.0.0.254`. */
export function parseAddress(
  value: unknown,
): { address: string; family: "inet" | "inet6" } | string {
  if (typeof value === "string" && value.includes("%")) {
    return `must not carry a zone index ("%..."): ip(8) does not take one, got ${JSON.stringify(value)}`;
  }
  if (typeof value !== "string" || !ipaddr.isValid(value)) {
    return `must be an IP address like "10.0.0.254", got ${JSON.stringify(value)}`;
  }
  const addr = ipaddr.parse(value);
  if (addr.kind() === "ipv4" && !ipaddr.IPv4.isValidFourPartDecimal(value)) {
    return `must be written in dotted-quad form, got ${JSON.stringify(value)}`;
  }
  if (addr.range() === "unspecified") return "must not be the unspecified address";
  return { address: addr.toString(), family: addr.kind() === "ipv4" ? "inet" : "inet6" };
}

/** The smallest and largest MTU we accept: IPv4's minimum, and the kernel's jumbo limit. */
export const MTU_RANGE = { min: 68, max: 65535 } as const;

/** Why `mtu` is not a usable MTU, or undefined. */
export function mtuProblem(mtu: unknown): string | undefined {
  if (typeof mtu !== "number" || !Number.isInteger(mtu))
    return `must be an integer, got ${shown(mtu)}`;
  if (mtu < MTU_RANGE.min || mtu > MTU_RANGE.max) {
    return `must be from ${MTU_RANGE.min} to ${MTU_RANGE.max}, got ${mtu}`;
  }
  return undefined;
}

/**
 * Checks a list of interface addresses: each parses, none repeats. Unknown
 * elements are let through. Returns the normalised list (`undefined` if any
 * element was unknown or failed).
 */
export function checkAddresses(
  checker: Checker,
  field: string,
  value: unknown,
): InterfaceAddress[] | undefined {
  if (value === undefined || isUnknown(value)) return value === undefined ? [] : undefined;
  if (!Array.isArray(value)) {
    checker.fail(field, 'must be a list of addresses like ["10.0.0.1/24"]');
    return undefined;
  }
  const out: InterfaceAddress[] = [];
  const seen = new Set<string>();
  let complete = true;
  value.forEach((item, i) => {
    if (isUnknown(item)) {
      complete = false;
      return;
    }
    const parsed = parseInterfaceAddress(item);
    if (typeof parsed === "string") {
      checker.fail(`${field}[${i}]`, parsed);
      complete = false;
      return;
    }
    if (seen.has(parsed.address)) {
      checker.fail(`${field}[${i}]`, `repeats the address ${parsed.address}`);
      complete = false;
    }
    seen.add(parsed.address);
    out.push(parsed);
  });
  return complete ? out : undefined;
}

/** `10.0.0.1/24`: the form `ip addr` takes and prints. */
export function formatAddress(a: InterfaceAddress): string {
  return `${a.address}/${a.prefixLength}`;
}
