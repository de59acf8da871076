/**
 * `linuxnet.lab`: a VM to try things on, made on the machine that runs
 * `pulumi up`. Program side only: nothing here runs a command; the engine's
 * dynamic-provider process runs ./runtime (through the package's runtime
 * module, as every other resource does).
 */

import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../transport/connection";
import { RUNTIME_MODULE } from "../resources/program";
import { typeTokenOf } from "../resources/type-token";

/** The inputs of a {@link LabHost}. */
export interface LabHostArgs {
  /**
   * The host's name in the lab, `[a-z0-9]{1,6}` (its network namespace is
   * `lnl-<lab>-<name>`); generated from the resource's name when omitted.
   * A change replaces the host.
   */
  name?: pulumi.Input<string>;
  /**
   * The IPv4 network the lab hosts of this machine share (a /16 to a /28;
   * default `10.213.250.0/24`): a bridge in a namespace of its own, with
   * `.1` on a link in this machine's namespace, and the hosts from `.11`.
   * Every LabHost on one fabric shares it: the first makes it, the last one
   * deleted removes it. It must not overlap a route of this machine. A change
   * replaces the host.
   */
  fabric?: pulumi.Input<string>;
  /**
   * Starts sshd this long after the host is made (0 to 600000 ms; default
   * 0), like a VM that is still booting when its API says it exists: what
   * connects to it must wait (`connection.dialTimeoutMs`). A change replaces the host.
   */
  sshdDelayMs?: pulumi.Input<number>;
}

/**
 * A lab host: a stand-in VM built from kernel primitives on the machine that
 * runs `pulumi up`, the same kind of host this package's tests use. It is a
 * network namespace with an `eth0` on a lab fabric, and its own mount and PID
 * namespaces in which a real `sshd` runs, with its own host key and boot id;
 * the machine reaches it over real SSH, as a remote box. Use its `connection`
 * as the connection of the network resources on it, and give them
 * `deletedWith: vm`.
 *
 * Needs root on that machine (the provider runs as the user who runs
 * `pulumi`). What it changes there: network namespaces `lnl-<lab>-*`, one
 * link `lnl<lab>f` with the fabric's `.1` (and so one connected route to the
 * fabric), sshd processes inside the lab's namespaces, and files under
 * `/run/linuxnet-lab/<lab>` (keys, configs, logs). It never touches the
 * machine's forwarding, firewall or other routes. Deleting the last LabHost
 * of a fabric removes all of it; `linuxnet lab down --all` removes what a
 * crash left. A reboot of the machine clears it too (it lives under `/run`).
 *
 * ```ts
 * const vm = new linuxnet.lab.LabHost("vm", { sshdDelayMs: 15_000 });
 * new linuxnet.Namespace("blue", { connection: vm.connection, name: "ns-blue" },
 *   { deletedWith: vm });
 * ```
 */
export class LabHost extends pulumi.CustomResource {
  /** The host's name in the lab. */
  declare readonly name: pulumi.Output<string>;
  /** The fabric it is on, as a network (`10.213.250.0/24`). */
  declare readonly fabric: pulumi.Output<string>;
  /** The lab (`lh` + the fabric's address in hex) whose namespaces and files hold it. */
  declare readonly labId: pulumi.Output<string>;
  /** The sshd start delay in ms. */
  declare readonly sshdDelayMs: pulumi.Output<number>;
  /** Its address on the fabric; sshd listens on port 22 there. */
  declare readonly address: pulumi.Output<string>;
  /** The SSH port (22). */
  declare readonly port: pulumi.Output<number>;
  /** The login with full rights (`root`). */
  declare readonly user: pulumi.Output<string>;
  /** The OpenSSH private key (ed25519) authorized for {@link LabHost.user}; a secret. */
  declare readonly privateKey: pulumi.Output<string>;
  /** Its public host key, `ssh-ed25519 AAAA...`, for `connection.hostKey`. */
  declare readonly hostKey: pulumi.Output<string>;
  /** The host key's fingerprint, `SHA256:...`. */
  declare readonly hostKeyFingerprint: pulumi.Output<string>;
  /** Its boot id: a new one each time it (re)starts, as `/proc/sys/kernel/random/boot_id` on it says. */
  declare readonly bootId: pulumi.Output<string>;
  /**
   * The connection to give the resources on it: host, port, user, private key
   * and host key (pinned). A secret, as it holds the key.
   */
  declare readonly connection: pulumi.Output<ConnectionArgs>;

  constructor(name: string, args: LabHostArgs = {}, opts?: pulumi.CustomResourceOptions) {
    const props: Record<string, unknown> = {
      resourceName: name,
      name: args.name,
      fabric: args.fabric,
      sshdDelayMs: args.sshdDelayMs,
      labId: undefined,
      address: undefined,
      port: undefined,
      user: undefined,
      privateKey: undefined,
      hostKey: undefined,
      hostKeyFingerprint: undefined,
      bootId: undefined,
      connection: undefined,
      __provider: `exports.handler = () => require(${JSON.stringify(RUNTIME_MODULE)}).labHostHandler();\n`,
    };
    super(typeTokenOf(LAB_HOST_KIND), name, props, {
      ...opts,
      additionalSecretOutputs: [
        ...(opts?.additionalSecretOutputs ?? []),
        "privateKey",
        "connection",
      ],
    });
  }
}

/** The type name of {@link LabHost} in a stack: `pulumi-nodejs:dynamic/linuxnet:LabHost`. */
export const LAB_HOST_KIND = "LabHost";
