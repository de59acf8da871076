/**
 * Every kind of this package, in one list: the runtime serves these (by the
 * type name they have in the stack), the tests run every one of them through
 * check, diff and the engine's wire, and a unit test holds the public index to
 * export each one's class. Adding a kind: its file, one line here, its tests
 * (and its class in the public index, which that test asks for).
 */

import type { BaseInputs } from "./kind";
import { TYPE_PREFIX, typeTokenOf } from "./type-token";
import type { DeclaredKind } from "./declare";
import { namespaceKind } from "./namespace";
import { bridgeKind } from "./bridge";
import { vethKind } from "./veth";
import { routeKind } from "./route";
import { natKind } from "./nat";
import { connectivityKind } from "./connectivity";
import { sysctlKind } from "./sysctl";
import { portForwardKind } from "./portforward";
import { vxlanKind } from "./vxlan";
import { shapingKind } from "./shaping";

/** Every kind, by the type name it has in the stack (its declaration's `name`). */
export const kinds = {
  Namespace: namespaceKind,
  Bridge: bridgeKind,
  VethPair: vethKind,
  Route: routeKind,
  NatRule: natKind,
  ConnectivityCheck: connectivityKind,
  Sysctl: sysctlKind,
  PortForward: portForwardKind,
  Vxlan: vxlanKind,
  LinkShaping: shapingKind,
} as const;

/** A kind's type name: `Namespace`, `Bridge`, `VethPair`, `Route`, `NatRule`, `ConnectivityCheck`, `Sysctl`, `PortForward`, `Vxlan`, `LinkShaping`. */
export type KindName = keyof typeof kinds;

/** Every kind's name, in the order above. */
export const KIND_NAMES = Object.keys(kinds) as KindName[];

for (const name of KIND_NAMES) {
  if (kinds[name].declaration.name !== name) {
    throw new Error(`registry: kind "${name}" declares itself "${kinds[name].declaration.name}"`);
  }
}

/** The kind of a name, or undefined for a name this package does not have. */
export function kindNamed(name: string): DeclaredKind<BaseInputs, BaseInputs> | undefined {
  return Object.hasOwn(kinds, name)
    ? (kinds[name as KindName] as unknown as DeclaredKind<BaseInputs, BaseInputs>)
    : undefined;
}

export { TYPE_PREFIX } from "./type-token";

/** A kind's type token in the stack. */
export function typeToken(name: KindName): string {
  return typeTokenOf(name);
}

/**
 * The kind of a type token from a stack's state (`pulumi stack export`), or
 * undefined for anything not ours. The graph's per-kind picture can start here.
 */
export function kindNameOfType(type: string): KindName | undefined {
  if (!type.startsWith(TYPE_PREFIX)) return undefined;
  const name = type.slice(TYPE_PREFIX.length);
  return kindNamed(name) ? (name as KindName) : undefined;
}

/** The kinds whose `read` only asks a HostReader's questions, and so can read from a host snapshot. */
export const SNAPSHOT_READ_KINDS: ReadonlySet<KindName> = new Set(
  KIND_NAMES.filter((name) => kinds[name].declaration.snapshotRead),
);
