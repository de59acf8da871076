/**
 * The fixes the doctor suggests, built in one place: each is an argv list
 * (run one after another) and prints as one line for a root shell on the
 * host. The builders are pure; each doc ends with its command-line twin.
 */

import { quoteArgv } from "../shell/quote";
import { inNamespace, ipArgv } from "../host/ip";
import { iptablesArgv } from "../host/iptables";

/** The fix as one shell line: the commands quoted, joined by `&&`. */
export function fixText(commands: readonly (readonly string[])[]): string {
  return commands.map((c) => quoteArgv(c)).join(" && ");
}

/** Equivalent to: `ip [-n NS] ARGS...` */
export function ipFix(namespace: string | undefined, ...args: string[]): string[] {
  return ipArgv(namespace, ...args);
}

/** Equivalent to: `ip [-n NS] link set dev DEV up` */
export function linkUpFix(namespace: string | undefined, dev: string): string[] {
  return ipFix(namespace, "link", "set", "dev", dev, "up");
}

/** A bridge port set to forwarding. Equivalent to: `[ip netns exec NS] bridge link set dev PORT state 3` */
export function portForwardingFix(namespace: string | undefined, port: string): string[] {
  return inNamespace(namespace, ["bridge", "link", "set", "dev", port, "state", "3"]);
}

/** Equivalent to: `[ip netns exec NS] iptables -w -t TABLE ARGS...` */
export function iptablesFix(
  namespace: string | undefined,
  table: "filter" | "nat",
  ...args: string[]
): string[] {
  return iptablesArgv(namespace, table, ...args);
}

/** An ACCEPT rule first in a filter chain. Equivalent to: `iptables -w -t filter -I CHAIN 1 MATCH... -j ACCEPT` */
export function acceptFix(
  namespace: string | undefined,
  chain: "INPUT" | "OUTPUT" | "FORWARD",
  ...match: string[]
): string[] {
  return iptablesFix(namespace, "filter", "-I", chain, "1", ...match, "-j", "ACCEPT");
}

/** Equivalent to: `iptables -w -t nat -A POSTROUTING -s SOURCE -o OUT -j MASQUERADE` */
export function masqueradeFix(
  namespace: string | undefined,
  source: string,
  outInterface: string,
): string[] {
  return iptablesFix(
    namespace,
    "nat",
    "-A",
    "POSTROUTING",
    "-s",
    source,
    "-o",
    outInterface,
    "-j",
    "MASQUERADE",
  );
}

/** Equivalent to: `[ip netns exec NS] sysctl -w KEY=VALUE` */
export function sysctlFix(namespace: string | undefined, key: string, value: string): string[] {
  return inNamespace(namespace, ["sysctl", "-w", `${key}=${value}`]);
}
