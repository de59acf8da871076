/**
 * The dynamic provider of `linuxnet.lab.LabHost`, as the engine's
 * dynamic-provider process runs it (through `labHostHandler` of the package's
 * runtime module): lab hosts made on this machine by lab/labhost.ts.
 */

import type * as dynamic from "@pulumi/pulumi/dynamic";
import ipaddr from "ipaddr.js";
import {
  type LabHostJson,
  addLabHost,
  dropLabHost,
  findLabHost,
  labIdOfFabric,
} from "../../lab/labhost";
import { structSafe } from "../struct";
import { isUnknown } from "../resources/validate";

/** The fabric of a LabHost that names none. */
export const DEFAULT_LAB_FABRIC = "10.213.250.0/24";

const NAME_RE = /^[a-z0-9]{1,6}$/;

/** A host name from the resource's name, kept across updates: up to 4 of its letters and digits and 2 random ones. */
function generatedName(resourceName: unknown): string {
  const stem = String(resourceName ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "")
    .slice(0, 4);
  const tail = Math.floor(Math.random() * 36 ** 2)
    .toString(36)
    .padStart(2, "0");
  const name = `${stem}${tail}`;
  return name === "fab" ? "fab0" : name;
}

/** Checks a LabHost's inputs; names what is wrong. Pure but for a generated name. */
export function checkLabHost(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
): { inputs: Record<string, unknown>; failures: { property: string; reason: string }[] } {
  const failures: { property: string; reason: string }[] = [];
  const inputs: Record<string, unknown> = { ...news };
  if (news.name === undefined || news.name === null) {
    inputs.name =
      olds.autoNamed && typeof olds.name === "string"
        ? olds.name
        : generatedName(news.resourceName);
    inputs.autoNamed = true;
  } else {
    inputs.autoNamed = false;
    if (
      !isUnknown(news.name) &&
      (typeof news.name !== "string" || !NAME_RE.test(news.name) || news.name === "fab")
    ) {
      failures.push({ property: "name", reason: `must match ${NAME_RE} and not be "fab"` });
    }
  }
  const fabric = news.fabric ?? DEFAULT_LAB_FABRIC;
  inputs.fabric = fabric;
  if (!isUnknown(fabric)) {
    const ok =
      typeof fabric === "string" &&
      ipaddr.IPv4.isValidCIDRFourPartDecimal(fabric) &&
      ipaddr.IPv4.parseCIDR(fabric)[1] >= 16 &&
      ipaddr.IPv4.parseCIDR(fabric)[1] <= 28;
    if (!ok)
      failures.push({
        property: "fabric",
        reason: `must be an IPv4 network from /16 to /28 like ${DEFAULT_LAB_FABRIC}, got ${JSON.stringify(fabric)}`,
      });
    else
      inputs.fabric =
        ipaddr.IPv4.networkAddressFromCIDR(fabric).toString() +
        "/" +
        ipaddr.IPv4.parseCIDR(fabric)[1];
  }
  const delay = news.sshdDelayMs ?? 0;
  inputs.sshdDelayMs = delay;
  if (
    !isUnknown(delay) &&
    (typeof delay !== "number" || !Number.isInteger(delay) || delay < 0 || delay > 600_000)
  ) {
    failures.push({
      property: "sshdDelayMs",
      reason: `must be an integer from 0 to 600000, got ${JSON.stringify(delay)}`,
    });
  }
  return { inputs, failures };
}

const REPLACES = ["name", "fabric", "sshdDelayMs"] as const;

function outputsOf(
  inputs: Record<string, unknown>,
  labId: string,
  host: LabHostJson & { bootId?: string },
) {
  return {
    resourceName: inputs.resourceName,
    name: host.name,
    autoNamed: inputs.autoNamed,
    fabric: inputs.fabric,
    sshdDelayMs: inputs.sshdDelayMs,
    labId,
    address: host.address,
    port: host.port,
    user: host.user,
    privateKey: host.privateKey,
    hostKey: host.hostKey,
    hostKeyFingerprint: host.hostKeyFingerprint,
    ...(host.bootId ? { bootId: host.bootId } : {}),
    connection: {
      host: host.address,
      port: host.port,
      user: host.user,
      privateKey: host.privateKey,
      hostKey: host.hostKey,
    },
  };
}

/** The provider the engine calls for every LabHost. */
export const labHostProvider: dynamic.ResourceProvider = {
  async check(olds, news) {
    return structSafe(checkLabHost(olds ?? {}, news));
  },
  async diff(_id, olds, news) {
    const replaces = REPLACES.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
    return structSafe({
      changes: replaces.length > 0,
      replaces,
      // The kernel holds a host's name once: a replacement that keeps it deletes first.
      deleteBeforeReplace: replaces.length > 0,
    });
  },
  async create(inputs) {
    const labId = labIdOfFabric(String(inputs.fabric));
    const name = String(inputs.name);
    await addLabHost({
      id: labId,
      fabric: String(inputs.fabric),
      spec: { name, sshdDelayMs: Number(inputs.sshdDelayMs ?? 0) },
    });
    const host = await findLabHost(labId, name);
    if (!host) throw new Error(`lab host ${name} of lab ${labId} vanished as it was made`);
    return structSafe({ id: `${labId}/${name}`, outs: outputsOf(inputs, labId, host) });
  },
  async read(id, props) {
    const [labId = "", name = ""] = id.split("/");
    const host = await findLabHost(labId, name);
    // Gone (deleted out of band, or this machine rebooted): what is left of it in the lab
    // goes too (the last host takes the fabric), and `up` makes it again.
    if (!host?.running) {
      await dropLabHost(labId, name);
      return {};
    }
    return structSafe({ id, props: outputsOf(props, labId, host) });
  },
  async delete(id) {
    const [labId = "", name = ""] = id.split("/");
    await dropLabHost(labId, name);
  },
};
