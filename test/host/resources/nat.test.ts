/**
 * NatRule on a real lab host over real SSH, driven through the dynamic
 * provider: the tagged MASQUERADE rule, and `ip_forward` turned on while
 * our rules need it and put back after the last of them.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Driver,
  connectionsOpened,
  type Managed,
  addNamespace,
  afterFailure,
  expectUserError,
  inNs,
  ipForward,
  labelled,
  oob,
  oobResult,
  removeNamespace,
  rules,
  setIpForward,
  useLabHost,
} from "../support";

const ctx = useLabHost("tres5");
const nat = () => new Driver("NatRule", ctx);
const NS = "ns-nat";

/** The POSTROUTING rules of the nat table in `ns` (or the host). */
const postrouting = (ns: string | undefined) => rules(ctx.h, ns, "nat", "POSTROUTING");

/** Our rule's line as `iptables -S` prints it: tagged `linuxnet:<id>` (and maybe more after a colon). */
function ruleLine(res: Managed, spec: { source: string; outInterface?: string }): string {
  const tag = res.outs.tag as string;
  expect(tag === `linuxnet:${res.id}` || tag.startsWith(`linuxnet:${res.id}:`)).toBe(true);
  const out = spec.outInterface ? ` -o ${spec.outInterface}` : "";
  return `-A POSTROUTING -s ${spec.source}${out} -m comment --comment "${tag}" -j MASQUERADE`;
}

/** Whether anything of ours is kept on the lab host outside iptables (a record of ip_forward). */
async function runState(): Promise<string> {
  // /run/linuxnet itself is the lab host's own mount point; what matters is what is in it.
  return (await oobResult(ctx.h, ["find", "/run/linuxnet", "-mindepth", "1"])).stdout.trim();
}

beforeAll(async () => {
  await addNamespace(ctx.h, NS);
});

afterAll(async () => {
  if (ctx.h) await removeNamespace(ctx.h, NS);
});

// A failed test leaves its rules behind: clear them so the next test starts from a clean host.
afterFailure(async () => {
  for (const ns of [NS, undefined]) {
    await oob(ctx.h, inNs(ns, ["iptables", "-w", "-t", "nat", "-F", "POSTROUTING"]));
    await setIpForward(ctx.h, ns, 0);
  }
  await oob(ctx.h, ["rm", "-rf", "/run/linuxnet/ip_forward"]);
});

describe("NatRule", () => {
  it.each(
    labelled([
      { label: "on the host itself", namespace: undefined },
      { label: "inside a router namespace", namespace: NS },
    ]),
  )(
    "masquerades a source network %s with a tagged rule, turns ip_forward on, and on delete puts everything back",
    async (_label, { namespace }) => {
      await setIpForward(ctx.h, namespace, 0);
      const before = await postrouting(namespace);
      const d = nat();
      const args = { namespace, source: "10.0.0.0/24", outInterface: "eth0" };
      const res = await d.create(args);
      expect(res.id).toMatch(/^nat-[0-9a-f]{8}$/);
      expect(await postrouting(namespace)).toEqual([...before, ruleLine(res, args)]);
      expect(await ipForward(ctx.h, namespace)).toBe("1");
      await d.expectNoDrift(res);

      await d.delete(res);
      expect(await postrouting(namespace)).toEqual(before);
      expect(await ipForward(ctx.h, namespace)).toBe("0");
      await d.delete(res);
      expect(await postrouting(namespace)).toEqual(before);
      expect(await ipForward(ctx.h, namespace)).toBe("0");
    },
  );

  it("leaves ip_forward on after delete when it was on before create", async () => {
    await setIpForward(ctx.h, NS, 1);
    try {
      const d = nat();
      const res = await d.create({ namespace: NS, source: "10.1.0.0/24" });
      expect(await postrouting(NS)).toEqual([ruleLine(res, { source: "10.1.0.0/24" })]);
      await d.delete(res);
      expect(await postrouting(NS)).toEqual([]);
      expect(await ipForward(ctx.h, NS)).toBe("1");
    } finally {
      await setIpForward(ctx.h, NS, 0);
    }
  });

  it("never touches ip_forward when forwarding is false", async () => {
    const d = nat();
    const res = await d.create({ namespace: NS, source: "10.2.0.0/24", forwarding: false });
    expect(await ipForward(ctx.h, NS)).toBe("0");
    expect(await postrouting(NS)).toEqual([ruleLine(res, { source: "10.2.0.0/24" })]);
    await d.expectNoDrift(res);
    await d.delete(res);
    expect(await postrouting(NS)).toEqual([]);
    expect(await ipForward(ctx.h, NS)).toBe("0");
  });

  it.each(
    labelled([
      { label: "the first one created first", order: [0, 1] },
      { label: "the last one created first", order: [1, 0] },
    ]),
  )(
    "keeps ip_forward on until the last of two rules in one namespace is deleted, deleting %s",
    async (_label, { order }) => {
      const d = nat();
      const made = [
        await d.create({ namespace: NS, source: "10.3.0.0/24" }),
        await d.create({ namespace: NS, source: "10.4.0.0/24", outInterface: "eth0" }),
      ];
      expect(await ipForward(ctx.h, NS)).toBe("1");
      expect(await postrouting(NS)).toHaveLength(2);

      const [first, last] = order.map((i) => made[i]!);
      await d.delete(first!);
      expect(await ipForward(ctx.h, NS)).toBe("1");
      const left = await postrouting(NS);
      expect(left).toHaveLength(1);
      expect(left[0]).toContain(last!.outs.tag as string);
      await d.expectNoDrift(last!);

      await d.delete(last!);
      expect(await postrouting(NS)).toEqual([]);
      expect(await ipForward(ctx.h, NS)).toBe("0");
    },
  );

  it("puts ip_forward back when two rules in one namespace are created and deleted at once, as the engine does", async () => {
    const d = nat();
    // The engine creates and deletes resources that do not depend on each other in parallel.
    const made = await Promise.all([
      d.create({ namespace: NS, source: "10.12.0.0/24" }),
      d.create({ namespace: NS, source: "10.13.0.0/24" }),
    ]);
    expect(await postrouting(NS)).toHaveLength(2);
    expect(await ipForward(ctx.h, NS)).toBe("1");
    await Promise.all(made.map((res) => d.delete(res)));
    expect(await postrouting(NS)).toEqual([]);
    expect(await ipForward(ctx.h, NS)).toBe("0");
    expect(await runState()).toBe("");
  });

  it("finds its rule by tag wherever it moved, and deletes only its own, never a neighbour's", async () => {
    const d = nat();
    const res = await d.create({ namespace: NS, source: "10.5.0.0/24", outInterface: "eth0" });
    const theirs = [
      // The same match, untagged, before and after ours; and one with another comment.
      ["-I", "POSTROUTING", "1", "-s", "10.5.0.0/24", "-o", "eth0", "-j", "MASQUERADE"],
      ["-A", "POSTROUTING", "-s", "10.5.0.0/24", "-o", "eth0", "-j", "MASQUERADE"],
      [
        ...["-I", "POSTROUTING", "1", "-s", "10.5.0.0/24", "-m", "comment"],
        ...["--comment", "docker-ish", "-j", "MASQUERADE"],
      ],
    ];
    for (const argv of theirs) await oob(ctx.h, inNs(NS, ["iptables", "-w", "-t", "nat", ...argv]));
    const withOurs = await postrouting(NS);
    expect(withOurs).toHaveLength(4);
    expect(withOurs[2]).toBe(ruleLine(res, { source: "10.5.0.0/24", outInterface: "eth0" }));
    await d.expectNoDrift(res);

    await d.delete(res);
    expect(await postrouting(NS)).toEqual(withOurs.filter((_, i) => i !== 2));
    for (const argv of theirs) {
      const del =
        argv[0] === "-I" ? ["-D", "POSTROUTING", ...argv.slice(3)] : ["-D", ...argv.slice(1)];
      await oob(ctx.h, inNs(NS, ["iptables", "-w", "-t", "nat", ...del]));
    }
    expect(await postrouting(NS)).toEqual([]);
  });

  it("reads its rule deleted out of band as gone", async () => {
    const d = nat();
    const res = await d.create({ namespace: NS, source: "10.6.0.0/24" });
    const spec = ["-s", "10.6.0.0/24", "-m", "comment", "--comment", res.outs.tag as string];
    await oob(
      ctx.h,
      inNs(NS, ["iptables", "-w", "-t", "nat", "-D", "POSTROUTING", ...spec, "-j", "MASQUERADE"]),
    );
    expect(await d.read(res)).toBeUndefined();
    await d.delete(res);
    expect(await ipForward(ctx.h, NS)).toBe("0");
  });

  it("reads ip_forward turned off out of band as drift that replaces the rule", async () => {
    const d = nat();
    const res = await d.create({ namespace: NS, source: "10.7.0.0/24" });
    await setIpForward(ctx.h, NS, 0);
    const props = await d.read(res);
    expect(props).toMatchObject({ forwarding: false, source: "10.7.0.0/24" });
    const diff = await d.provider.diff!(res.id, props!, res.inputs);
    expect(diff).toMatchObject({ changes: true, replaces: ["forwarding"] });
    await d.delete(res);
    expect(await postrouting(NS)).toEqual([]);
    expect(await ipForward(ctx.h, NS)).toBe("0");
  });

  it("updates a new connection to the same host in place, keeping its tag, and replaces a new source", async () => {
    const d = nat();
    const args = { namespace: NS, source: "10.8.0.0/24" };
    const res = await d.create(args);
    const updated = await d.update(res, {
      ...args,
      connection: { ...ctx.connection, dialTimeoutMs: 30_000 },
    });
    expect(updated.outs.tag).toBe(res.outs.tag);
    expect(await postrouting(NS)).toEqual([ruleLine(res, args)]);
    await d.expectNoDrift(updated);
    expect(await d.diff(updated, { ...args, source: "10.9.0.0/24" })).toMatchObject({
      changes: true,
      replaces: ["source"],
      deleteBeforeReplace: false,
    });
    await d.delete(updated);
    expect(await postrouting(NS)).toEqual([]);
    expect(await ipForward(ctx.h, NS)).toBe("0");
  });

  it("leaves nothing behind when turning ip_forward on fails part-way through create, and says why", async () => {
    // /proc/sys read-only in the lab host's mount namespace, as in a container.
    await oob(ctx.h, ["mount", "--bind", "/proc/sys", "/proc/sys"]);
    try {
      await oob(ctx.h, ["mount", "-o", "remount,bind,ro", "/proc/sys"]);
      const error = await nat().createFails({ namespace: NS, source: "10.10.0.0/24" });
      expectUserError(
        error,
        ctx.h,
        `ip netns exec ${NS} sysctl -qw net.ipv4.ip_forward=1`,
        'permission denied on key "net.ipv4.ip_forward"',
      );
      expect(await postrouting(NS)).toEqual([]);
      expect(await ipForward(ctx.h, NS)).toBe("0");
      expect(await runState()).toBe("");
    } finally {
      await oob(ctx.h, ["umount", "/proc/sys"]);
    }
  });

  it.each(
    labelled([
      {
        label: "with forwarding",
        forwarding: true,
        command: /ip netns exec ns-ghost iptables -w -t nat/,
      },
      {
        label: "without forwarding",
        forwarding: false,
        command: /ip netns exec ns-ghost iptables -w -t nat -A POSTROUTING -s 10.11.0.0\/24/,
      },
    ]),
  )(
    "refuses a rule %s in a namespace that does not exist, naming the host, the command and the kernel's words",
    async (_label, { forwarding, command }) => {
      const hostRules = await postrouting(undefined);
      const error = await nat().createFails({
        namespace: "ns-ghost",
        source: "10.11.0.0/24",
        forwarding,
      });
      expectUserError(error, ctx.h, command, 'Cannot open network namespace "ns-ghost"');
      expect(await postrouting(undefined)).toEqual(hostRules);
    },
  );

  it("left no rule, no record and ip_forward off on the host and in the namespace", async () => {
    expect(await rules(ctx.h, NS, "nat")).toEqual([]);
    expect(await rules(ctx.h, undefined, "nat")).toEqual([]);
    expect(await ipForward(ctx.h, NS)).toBe("0");
    expect(await ipForward(ctx.h)).toBe("0");
    expect(await runState()).toBe("");
  });

  it("used one pooled SSH connection for every operation in this file", () => {
    expect(connectionsOpened(ctx)).toBe(1);
  });
});
