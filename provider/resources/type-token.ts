/**
 * The type tokens our resources have in a stack's state. A leaf (it imports
 * nothing), so the program side, the registry and the graph of a stack
 * export share one spelling without loading each other.
 */

/** The prefix of every type token of ours: `pulumi-nodejs:dynamic/linuxnet:Bridge`. */
export const TYPE_PREFIX = "pulumi-nodejs:dynamic/linuxnet:";

/** A kind's type token in the stack: `pulumi-nodejs:dynamic/linuxnet:<kind>`. */
export function typeTokenOf(kind: string): string {
  return `${TYPE_PREFIX}${kind}`;
}
