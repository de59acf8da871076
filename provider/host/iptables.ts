/**
 * iptables rules that this package owns. Every rule carries a comment tag
 * (`linuxnet:<id>...`) and is found and removed by that tag only, so a
 * neighbour's rules are never touched. Every call waits for the xtables lock
 * (`-w`): without it a contended call fails with exit 4, which is not
 * "rule absent". `iptables` is whichever flavour (nft or legacy) the host has
 * chosen, so we read and write the rule set the host uses.
 */

import type { Host } from "../transport";
import { inNamespace } from "./ip";

/** The prefix of every comment tag we write. */
export const TAG_PREFIX = "linuxnet:";

/** Equivalent to: `[ip netns exec NS] iptables -w -t TABLE ARGS...` */
export function iptablesArgv(
  namespace: string | undefined,
  table: string,
  ...args: string[]
): string[] {
  return inNamespace(namespace, ["iptables", "-w", "-t", table, ...args]);
}

/** One rule from `iptables -S`, as an argv after the chain, with its comment tag. */
export interface TaggedRule {
  readonly chain: string;
  readonly spec: string[];
  readonly tag: string;
}

/**
 * Splits one line of `iptables -S` into words. iptables quotes a word with
 * double quotes when it holds spaces or quotes, escaping `"` and `\` inside.
 */
export function splitRuleLine(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!);
  }
  return words;
}

/** The rules of `iptables -S` output that carry one of our tags. */
export function parseTaggedRules(stdout: string): TaggedRule[] {
  const rules: TaggedRule[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("-A ") || !line.includes(TAG_PREFIX)) continue;
    const words = splitRuleLine(line);
    const at = words.indexOf("--comment");
    const tag = at >= 0 ? words[at + 1] : undefined;
    if (!tag?.startsWith(TAG_PREFIX)) continue;
    rules.push({ chain: words[1]!, spec: words.slice(2), tag });
  }
  return rules;
}

/**
 * Our rules in one table (and chain) of a namespace; an empty list when the
 * namespace is gone. Equivalent to: `iptables -w -t TABLE -S [CHAIN]`
 */
export async function readTaggedRules(
  host: Host,
  namespace: string | undefined,
  table: string,
  chain?: string,
): Promise<TaggedRule[] | undefined> {
  const argv = iptablesArgv(namespace, table, "-S", ...(chain ? [chain] : []));
  const r = await host.run(argv);
  if (r.exitCode !== 0) {
    if (/Cannot open network namespace/.test(r.stderr)) return undefined;
    await host.runOk(argv);
  }
  return parseTaggedRules(r.stdout);
}

/** True when a rule's tag is `tag` itself or `tag:<more>`. */
export function hasTag(rule: TaggedRule, tag: string): boolean {
  return rule.tag === tag || rule.tag.startsWith(`${tag}:`);
}

/**
 * Deletes every rule carrying `tag` in one table. Idempotent: no rule, or no
 * namespace, is success. Equivalent to: `iptables -w -t TABLE -D CHAIN SPEC...` per rule.
 */
export async function deleteTaggedRules(
  host: Host,
  namespace: string | undefined,
  table: string,
  tag: string,
): Promise<void> {
  const rules = await readTaggedRules(host, namespace, table);
  for (const rule of rules ?? []) {
    if (!hasTag(rule, tag)) continue;
    const argv = iptablesArgv(namespace, table, "-D", rule.chain, ...rule.spec);
    const r = await host.run(argv);
    // "Bad rule" / "does a matching rule exist": someone removed it between our read and delete.
    if (r.exitCode !== 0 && !/does a matching rule exist|Bad rule|No chain/.test(r.stderr)) {
      await host.runOk(argv);
    }
  }
}
