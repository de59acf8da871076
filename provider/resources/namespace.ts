/**
 * Namespace: a network namespace on a host (`ip netns add`).
 */

import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../transport/connection";
import { LinuxnetResource } from "./program";
import { CommandError } from "../errors";
import { ipArgv, listNamespaces } from "../host/ip";
import { type BaseInputs, throwIfStepFailed } from "./kind";
import { adoptField, bool, connection, declareKind, generatedName } from "./declare";
import {
  ExistsError,
  markFor,
  namespaceMarkOf,
  namespaceRecord,
  planNamespaceIdentity,
  planNamespaceRecordWrite,
  planRecordRead,
  planRecordRemove,
} from "./owner";
import { namespaceNameProblem } from "./validate";

/** Inputs of a Namespace, as the provider sees them. */
export interface NamespaceInputs extends BaseInputs {
  /** The namespace's name; generated from the resource name when omitted. */
  readonly name: string;
  /** Whether the name was generated (so a replacement may pick a new one). */
  readonly autoNamed?: boolean;
  /** Bring `lo` up inside, as a container runtime does; true. */
  readonly loopbackUp?: boolean;
  /** Take over an existing unmarked namespace of this name. */
  readonly adopt?: boolean;
}

/** Outputs of a Namespace: its inputs as the host has them. */
export type NamespaceOutputs = NamespaceInputs;

/**
 * Creates the namespace and its record of ownership (owner.ts), in one round
 * trip so that an interrupted create leaves a marked namespace. `ip netns
 * add` sets up the `/run/netns` mount on first use, and two first uses at
 * once race (Debian bug 949235), so the directory is made first.
 * Equivalent to: `mkdir -p /run/netns && ip netns add NAME && { echo MARK; stat -Lc 'nsfs %i %Z' /run/netns/NAME; } > /run/linuxnet/netns/NAME`
 */
export function planNamespaceCreate(inputs: NamespaceInputs, mark: string): string[][] {
  const steps = [
    ["mkdir", "-p", "/run/netns"],
    ["ip", "netns", "add", inputs.name],
    planNamespaceRecordWrite(inputs.name, mark),
  ];
  if (inputs.loopbackUp !== false) steps.push(ipArgv(inputs.name, "link", "set", "lo", "up"));
  return steps;
}

/** Equivalent to: `ip netns delete NAME` */
export function planNamespaceDelete(name: string): string[] {
  return ["ip", "netns", "delete", name];
}

/** The Namespace kind: its inputs as declared, and its lifecycle. */
export const namespaceKind = declareKind<NamespaceInputs, NamespaceOutputs>({
  name: "Namespace",
  fields: {
    connection: connection("replace-on-host"),
    // A generated name stays within 32 bytes; one given may have up to 64.
    name: {
      type: generatedName({ maxBytes: 32, problem: namespaceNameProblem }),
      change: "replace",
    },
    loopbackUp: { type: bool(true), change: "update" },
    adopt: adoptField(),
  },
  snapshotRead: true,
  deleteBeforeReplace: { keeps: ["name"] },

  idOf: (inputs) => inputs.name,

  async create(host, inputs) {
    // One round trip: mkdir, add, the record, lo up.
    const steps = planNamespaceCreate(inputs, markFor(inputs, "Namespace"));
    const results = await host.runSteps(steps);
    const added = results.length > 1 && results[1]!.exitCode === 0;
    try {
      const failed = results.findIndex((r) => r.exitCode !== 0);
      if (failed === 1 && /File exists/.test(results[1]!.stderr)) {
        // The record marks it only when it names this namespace, not one deleted by hand
        // and made again under its name.
        const [record, identity] = await Promise.all([
          host.run(planRecordRead(namespaceRecord(inputs.name))),
          host.run(planNamespaceIdentity(inputs.name)),
        ]);
        const r = results[1]!;
        throw new ExistsError(
          host.name,
          steps[1]!,
          r.exitCode,
          r.stdout,
          r.stderr,
          `namespace "${inputs.name}"`,
          namespaceMarkOf(
            record.stdout,
            record.exitCode,
            identity.exitCode === 0 ? identity.stdout : undefined,
          ),
        );
      }
      await throwIfStepFailed(host, steps, results);
      if (!(await listNamespaces(host)).includes(inputs.name)) {
        throw new Error(
          `on ${host.name}: namespace "${inputs.name}" was added but is not listed by "ip netns list"`,
        );
      }
    } catch (e) {
      if (added) {
        await host.run(planNamespaceDelete(inputs.name));
        await host.run(planRecordRemove(namespaceRecord(inputs.name)));
      }
      throw e;
    }
    return inputs;
  },

  async mark(host, inputs, mark) {
    await host.runOk(planNamespaceRecordWrite(inputs.name, mark));
  },

  async read(reader, _id, props) {
    if (!(await reader.namespaces()).includes(props.name)) return undefined;
    const loopbackUp = await reader.loopbackUp(props.name);
    // Undefined: the namespace went between the two questions, and gone is gone.
    return loopbackUp === undefined ? undefined : { ...props, loopbackUp };
  },

  async update(host, _id, _olds, news) {
    const state = news.loopbackUp === false ? "down" : "up";
    await host.runOk(ipArgv(news.name, "link", "set", "lo", state));
    return news;
  },

  async delete(host, _id, props) {
    const argv = planNamespaceDelete(props.name);
    const r = await host.run(argv);
    // Already gone is success: delete can be called again after a partial failure.
    if (r.exitCode !== 0 && !/No such file or directory/.test(r.stderr)) {
      throw new CommandError(host.name, argv, r.exitCode, r.stdout, r.stderr);
    }
    await host.runOk(planRecordRemove(namespaceRecord(props.name)));
  },
});

/** Arguments of a {@link Namespace}. */
export interface NamespaceArgs {
  /**
   * The host to build on, `{ host: "10.1.0.2", privateKey: key }`; the stack's `linuxnet:*` config
   * when omitted. A changed `host` replaces the namespace; any other change updates in place (see
   * {@link ConnectionArgs}).
   */
  connection?: pulumi.Input<ConnectionArgs>;
  /**
   * The namespace's name under `/run/netns` (letters, digits, `_`, `.`, `-`;
   * at most 64 bytes): `"ns-blue"`. When omitted, `<resource name>-<5 random
   * hex digits>`, kept across updates. Changing it replaces the namespace,
   * and with it the objects whose `namespace` is this output.
   */
  name?: pulumi.Input<string>;
  /**
   * Bring `lo` up inside, as a container runtime does: without it, nothing
   * inside reaches 127.0.0.1 or the namespace's own addresses. True when
   * omitted. Updates in place: `false`.
   */
  loopbackUp?: pulumi.Input<boolean>;
  /**
   * Take over a namespace of this name that exists already and carries no
   * mark of ours (one made by hand or by netplan): its `lo` is converged and
   * it is marked as this resource's. Deleting the resource then deletes the
   * namespace; give the `retainOnDelete` resource option to keep it. A
   * namespace marked by another resource is refused either way. False when
   * omitted; turning it on or off later changes nothing.
   */
  adopt?: pulumi.Input<boolean>;
}

/**
 * A network namespace on a host: its own interfaces, routes and iptables.
 * Equivalent to: `ip netns add NAME && ip -n NAME link set lo up`
 */
export class Namespace extends LinuxnetResource {
  /** The namespace's name, for the objects that live in it: pass it as their `namespace`. */
  declare readonly name: pulumi.Output<string>;
  /** Whether `lo` is up inside, as last read from the host (a refresh shows drift here). */
  declare readonly loopbackUp: pulumi.Output<boolean>;
  /**
   * @param name - The resource's name in the stack; the prefix of a generated `name`.
   * @param args - The namespace's inputs; all optional.
   * @param opts - Pulumi resource options (`dependsOn`, `deletedWith`, ...).
   */
  constructor(name: string, args: NamespaceArgs = {}, opts?: pulumi.CustomResourceOptions) {
    super(namespaceKind, name, args, opts);
  }
}
