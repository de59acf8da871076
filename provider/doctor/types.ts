/**
 * The doctor's vocabulary: what it is asked, and the report it gives back.
 * Plain data, so that a report prints as text, travels as JSON and becomes a
 * resource's outputs unchanged.
 */

/** One end of the path the doctor checks. */
export interface Endpoint {
  /** A network namespace (`ip netns list`); the host's own namespace when unset. */
  readonly namespace?: string;
  /** An IPv4 address; for the source, the one to send from. */
  readonly address?: string;
}

/** What to check: can `from` reach `to` (on a port, for TCP)? */
export interface DoctorRequest {
  /** Where from: a namespace (the host's own when unset) and optionally the address to send from. */
  readonly from: Endpoint;
  /**
   * Where to. With only a namespace, its first global IPv4 address; with only
   * an address, wherever the kernel takes it (on this host or beyond).
   */
  readonly to: Endpoint;
  /** TCP port for the probe; implies `protocol: "tcp"`. */
  readonly port?: number;
  /** The probe: ICMP echo (default), or a TCP connect to `port`. */
  readonly protocol?: "icmp" | "tcp";
  /** Skip the live probe (reads only). */
  readonly noProbe?: boolean;
}

/** The verdict of one check. `warn` does not stop the walk; `fail` does. */
export type CheckStatus = "ok" | "fail" | "warn" | "skip";

/** One point on the path, checked. */
export interface DoctorCheck {
  /** Stable identifier of the kind of check (`bridge.up`, `nat.masquerade`, ...). */
  readonly id: string;
  /** What holds when the check passes, with the concrete names: "br0 (host) is UP". */
  readonly title: string;
  /** The verdict: `fail` is where the path breaks; every check after it is `skip`. */
  readonly status: CheckStatus;
  /** The namespace the check looked at: a name, or "host" for the host's own. */
  readonly where?: string;
  /** The kernel's words, or the command output that proves the verdict. */
  readonly evidence: string;
  /** A command line (for a root shell on the host) that would fix it. */
  readonly fix?: string;
  /** The same fix as argv lists, run one after another. */
  readonly fixCommands?: string[][];
}

/** One namespace the path passes through. */
export interface PathHop {
  /** Across hosts: the host this namespace is on (unset on the first host). */
  readonly host?: string;
  /** The namespace; undefined for the host's own. */
  readonly namespace?: string;
  /** The interface the traffic enters by (none at the source). */
  readonly in?: string;
  /** The bridge it crosses to get there, if any: `br0`. */
  readonly bridge?: string;
  /** The interface it leaves by (none at the destination). */
  readonly out?: string;
  /** The next hop's address when the route names a gateway. */
  readonly via?: string;
  /** How the walk ended here: "destination", "leaves the host", ... */
  readonly note?: string;
}

/** The doctor's answer. */
export interface DoctorReport {
  /** The host (its address, as the connection names it). */
  readonly host: string;
  /** The request as it was given. */
  readonly request: DoctorRequest;
  /** The source as resolved: its namespace and the address it sends from. */
  readonly source: Endpoint;
  /** The destination as resolved: its address, and its namespace when on this host. */
  readonly destination: Endpoint & {
    /** True when the address is on this host (in one of its namespaces or its own), false when beyond it. */
    readonly onHost: boolean;
  };
  /** The path as the kernel would take it, as far as the walk got. */
  readonly path: PathHop[];
  /** Every check in path order; after the first failure the rest are `skip`. */
  readonly checks: DoctorCheck[];
  /** True when no check failed (warnings allowed). */
  readonly healthy: boolean;
  /** The first failed check, where the path breaks. */
  readonly firstFailure?: DoctorCheck;
  /** Milliseconds the diagnosis took. */
  readonly durationMs: number;
}

/** A label for a namespace in messages: its name, or "host". */
export function nsLabel(namespace: string | undefined): string {
  return namespace ?? "host";
}
