/**
 * The provider side: what runs in the engine's dynamic-provider process. The
 * serialized provider of every resource is a few lines that `require` this
 * module (see `resources/shim.ts`), so state stays small and a package upgrade
 * takes effect without a diff.
 */

import type * as dynamic from "@pulumi/pulumi/dynamic";
import { ValidationError } from "./errors";
import { hostFor, type Host } from "./transport";
import { resolveConnection } from "./transport/connection";
import type { BaseInputs, Kind } from "./resources/kind";
import { bridgeKind } from "./resources/bridge";
import { namespaceKind } from "./resources/namespace";
import { natKind } from "./resources/nat";
import { routeKind } from "./resources/route";
import { vethKind } from "./resources/veth";

/** Every kind, by the type name it has in the stack. */
export const kinds = {
  Namespace: namespaceKind,
  Bridge: bridgeKind,
  VethPair: vethKind,
  Route: routeKind,
  NatRule: natKind,
} as const;

/** A kind's type name: `Namespace`, `Bridge`, `VethPair`, `Route`, `NatRule`. */
export type KindName = keyof typeof kinds;

/** The engine's own key for the serialized provider: never part of our state. */
const PROVIDER_KEY = "__provider";

function withoutProvider<T extends object>(props: T): T {
  const { [PROVIDER_KEY]: _dropped, ...rest } = props as Record<string, unknown>;
  return rest as T;
}

/**
 * Outputs as the engine can carry them: protobuf's Struct has no `undefined`,
 * so an unset field is left out rather than sent.
 */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function hostOf(props: BaseInputs): Host {
  const { connection, failures } = resolveConnection(props.connection ?? {});
  if (!connection) throw new ValidationError(failures);
  return hostFor(connection);
}

/** The dynamic provider for one kind, as the engine's dynamic-provider process calls it. */
export function handler(name: KindName): dynamic.ResourceProvider {
  const kind = kinds[name] as unknown as Kind<BaseInputs, BaseInputs>;
  if (!kind)
    throw new Error(
      `pulumi-linuxnet has no resource kind "${name}": is the package older than the stack?`,
    );
  return {
    async check(olds, news) {
      const { inputs, failures } = kind.check(olds, news);
      return { inputs, failures };
    },
    async diff(_id, olds, news) {
      return kind.diff(olds, news);
    },
    async create(inputs) {
      const { id, outs } = await kind.create(hostOf(inputs), withoutProvider(inputs));
      return { id, outs: plain(outs) };
    },
    async read(id, props) {
      const outs = await kind.read(hostOf(props), id, withoutProvider(props));
      // No id: the object is gone, and the engine drops it from state so `up` recreates it.
      return outs ? { id, props: plain(outs) } : {};
    },
    async update(id, olds, news) {
      const outs = await kind.update(
        hostOf(news),
        id,
        withoutProvider(olds),
        withoutProvider(news),
      );
      return { outs: plain(outs) };
    },
    async delete(id, props) {
      await kind.delete(hostOf(props), id, withoutProvider(props));
    },
  };
}
