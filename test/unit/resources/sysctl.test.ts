import { describe, expect, it } from "vitest";
import {
  type SysctlInputs,
  parseSysctlKey,
  sameSetting,
  sysctlKind,
  sysctlValueProblem,
} from "../../../provider/resources/sysctl";
import { sysctlClaimPath, sysctlFile } from "../../../provider/host/sysctl";
import { othersNeedForwarding } from "../../../provider/resources/forwarding";
import { taggedRule } from "../../support/rules";
import type { HostReader } from "../../../provider/host/reader";
import { CONNECTION, UNKNOWN, inputsFor, labelled } from "../support";

const inputs = inputsFor<SysctlInputs>("rpf", {
  key: "net.ipv4.conf.all.rp_filter",
  value: "2",
});

describe("parseSysctlKey", () => {
  it.each(
    labelled([
      {
        label: "a dotted key",
        key: "net.ipv4.conf.all.rp_filter",
        dotted: "net.ipv4.conf.all.rp_filter",
        file: "/proc/sys/net/ipv4/conf/all/rp_filter",
      },
      {
        label: "the same key in path form",
        key: "net/ipv4/conf/all/rp_filter",
        dotted: "net.ipv4.conf.all.rp_filter",
        file: "/proc/sys/net/ipv4/conf/all/rp_filter",
      },
      {
        label: "an interface with a dot, dotted as sysctl prints it",
        key: "net.ipv4.conf.eth0/100.rp_filter",
        dotted: "net.ipv4.conf.eth0/100.rp_filter",
        file: "/proc/sys/net/ipv4/conf/eth0.100/rp_filter",
      },
      {
        label: "an interface with a dot, in path form",
        key: "net/ipv4/conf/eth0.100/rp_filter",
        dotted: "net.ipv4.conf.eth0/100.rp_filter",
        file: "/proc/sys/net/ipv4/conf/eth0.100/rp_filter",
      },
      {
        label: "a key with dashes",
        key: "net.bridge.bridge-nf-call-iptables",
        dotted: "net.bridge.bridge-nf-call-iptables",
        file: "/proc/sys/net/bridge/bridge-nf-call-iptables",
      },
      {
        label: "a key of the host's kernel",
        key: "kernel.core_pattern",
        dotted: "kernel.core_pattern",
        file: "/proc/sys/kernel/core_pattern",
      },
    ]),
  )("reads %s", (_label, { key, dotted, file }) => {
    const parsed = parseSysctlKey(key);
    if (typeof parsed === "string") throw new Error(parsed);
    expect(parsed.key).toBe(dotted);
    expect(sysctlFile(parsed.segments)).toBe(file);
    // The dotted form reads back to itself.
    expect(parseSysctlKey(dotted)).toEqual(parsed);
  });

  it.each(
    labelled([
      { label: "a climb out of /proc/sys", key: "../../etc/x", why: /empty segment/ },
      { label: "a climb in path form", key: "net/../../etc/x", why: /"\.\." segment/ },
      { label: "an empty segment", key: "net..ipv4", why: /empty segment/ },
      { label: "a trailing dot", key: "net.ipv4.", why: /empty segment/ },
      { label: "an absolute path", key: "/etc/passwd", why: /empty segment/ },
      {
        label: "a /proc/sys path",
        key: "/proc/sys/net/ipv4/ip_forward",
        why: /without "\/proc\/sys\/"/,
      },
      { label: "a '.' segment", key: "net/./ipv4", why: /"\." or "\.\."/ },
      { label: "white space", key: "net.ipv4 x", why: /not " "/ },
      { label: "one segment", key: "net", why: /at least two segments/ },
      { label: "an unknown top-level directory", key: "etc.passwd", why: /must start with one of/ },
      { label: "a segment that reads as an option", key: "net.-x", why: /must not start with "-"/ },
      {
        label: "an interface name too long",
        key: "net.ipv4.conf.abcdefghijklmnop/1.rp_filter",
        why: /interface name.*15 bytes/,
      },
    ]),
  )("refuses %s", (_label, { key, why }) => {
    const parsed = parseSysctlKey(key);
    expect(typeof parsed).toBe("string");
    expect(parsed).toMatch(why);
  });
});

describe("sameSetting", () => {
  it.each(
    labelled([
      { label: "a tab and a space", a: "1\t0", b: "1 0", same: true },
      {
        label: "runs of white space and a newline",
        a: "4096\t131072\t6291456\n",
        b: " 4096  131072 6291456",
        same: true,
      },
      { label: "numbers with a leading zero", a: "02", b: "2", same: true },
      { label: "negative numbers", a: "-1", b: "-01", same: true },
      { label: "two numbers", a: "1", b: "2", same: false },
      { label: "words and numbers", a: "|/bin/x %p", b: "|/bin/x  %p", same: true },
      { label: "a missing word", a: "1 0", b: "1", same: false },
      { label: "words that differ in case", a: "Reno", b: "reno", same: false },
    ]),
  )("compares %s", (_label, { a, b, same }) => {
    expect(sameSetting(a, b)).toBe(same);
    expect(sameSetting(b, a)).toBe(same);
  });
});

describe("sysctlValueProblem", () => {
  it("takes a tab-separated multi-value", () => {
    expect(sysctlValueProblem("1\t0")).toBeUndefined();
  });
  it.each(
    labelled([
      { label: "a newline", value: "1\n0", why: /one line/ },
      { label: "a carriage return", value: "1\r", why: /one line/ },
      { label: "only white space", value: " \t", why: /empty/ },
      { label: "a number", value: 1, why: /must be a string/ },
      { label: "a page and more", value: "1".repeat(4097), why: /at most 4096/ },
    ]),
  )("refuses %s", (_label, { value, why }) => {
    expect(sysctlValueProblem(value)).toMatch(why);
  });
});

describe("sysctlKind.check", () => {
  it("stores the dotted form of a key given as a path, so the two spellings never differ", () => {
    const { inputs: out, failures } = sysctlKind.check(
      undefined,
      inputs({ key: "net/ipv4/conf/all/rp_filter" }),
    );
    expect(failures).toEqual([]);
    expect(out.key).toBe("net.ipv4.conf.all.rp_filter");
  });

  it("takes a kernel.* key on the host, and refuses it inside a namespace", () => {
    expect(sysctlKind.check(undefined, inputs({ key: "kernel.core_pattern" })).failures).toEqual(
      [],
    );
    const { failures } = sysctlKind.check(
      undefined,
      inputs({ key: "kernel.core_pattern", namespace: "ns-blue" }),
    );
    expect(failures).toEqual([
      { property: "key", reason: expect.stringMatching(/net\.\* key inside a namespace/) },
    ]);
  });

  it("lets a key through whose namespace is not known yet", () => {
    expect(
      sysctlKind.check(undefined, inputs({ key: "vm.swappiness", namespace: UNKNOWN })).failures,
    ).toEqual([]);
  });

  it("requires a key and a value", () => {
    const { failures } = sysctlKind.check(undefined, inputs({ key: undefined, value: undefined }));
    expect(failures.map((f) => f.property)).toEqual(["key", "value"]);
  });
});

describe("sysctlKind.diff", () => {
  const state = { ...sysctlKind.check(undefined, inputs()).inputs, valueBefore: "0" };
  it.each(
    labelled([
      { label: "a new value updates in place", over: { value: "1" }, changes: true, replaces: [] },
      {
        label: "the same key in path form changes nothing",
        over: { key: "net/ipv4/conf/all/rp_filter" },
        changes: false,
        replaces: [],
      },
      {
        label: "another key replaces",
        over: { key: "net.ipv4.conf.default.rp_filter" },
        changes: true,
        replaces: ["key"],
      },
      {
        label: "another namespace replaces",
        over: { namespace: "ns-blue" },
        changes: true,
        replaces: ["namespace"],
      },
    ]),
  )("%s", (_label, { over, changes, replaces }) => {
    const news = sysctlKind.check(state, inputs(over)).inputs;
    const d = sysctlKind.diff(state, news);
    expect(d.changes).toBe(changes);
    expect(d.replaces).toEqual(replaces);
    expect(d.deleteBeforeReplace).toBe(false);
  });

  // Made first, the new one would find the old one's claim (a host by another name may be
  // the same machine), or, respelled, record the old one's value as the one to put back.
  it.each(
    labelled([
      {
        label: "another host (the same machine by a DNS name, maybe)",
        olds: {},
        over: { connection: { ...CONNECTION, host: "lab-1.example" } },
        replaces: ["connection"],
      },
      {
        label: "forwarding respelled as conf.all.forwarding",
        olds: { key: "net.ipv4.ip_forward" },
        over: { key: "net.ipv4.conf.all.forwarding" },
        replaces: ["key"],
      },
      {
        label: "forwarding respelled as ip_forward, in a namespace",
        olds: { namespace: "ns-blue", key: "net.ipv4.conf.all.forwarding" },
        over: { namespace: "ns-blue", key: "net/ipv4/ip_forward" },
        replaces: ["key"],
      },
      {
        label: "a key not known yet",
        olds: {},
        over: { key: UNKNOWN },
        replaces: ["key"],
      },
    ]),
  )("replaces, deleting first, for %s", (_label, c) => {
    const olds = { ...sysctlKind.check(undefined, inputs(c.olds)).inputs, valueBefore: "0" };
    const news = sysctlKind.check(olds, inputs(c.over)).inputs;
    const d = sysctlKind.diff(olds, news);
    expect(d.replaces).toEqual(c.replaces);
    expect(d.deleteBeforeReplace).toBe(true);
  });

  it("replaces, creating first, for forwarding in another namespace", () => {
    const olds = {
      ...sysctlKind.check(undefined, inputs({ key: "net.ipv4.ip_forward" })).inputs,
      valueBefore: "0",
    };
    const news = sysctlKind.check(
      olds,
      inputs({ namespace: "ns-blue", key: "net.ipv4.conf.all.forwarding" }),
    ).inputs;
    const d = sysctlKind.diff(olds, news);
    expect(d.replaces).toEqual(["namespace", "key"]);
    expect(d.deleteBeforeReplace).toBe(false);
  });
});

describe("sysctlKind.read", () => {
  const props = { ...sysctlKind.check(undefined, inputs()).inputs, valueBefore: "0" };
  const reader = (value: string | undefined, claim: string | undefined) =>
    ({
      name: "h1",
      sysctl: async () => value,
      sysctlClaim: async (_ns: string | undefined, key: string) => {
        expect(key).toBe(props.key);
        return claim;
      },
    }) as unknown as HostReader;

  it("reads the setting back while its claim is ours", async () => {
    expect(await sysctlKind.read(reader("2", "sysctl-1"), "sysctl-1", props)).toEqual(props);
    expect((await sysctlKind.read(reader("0", "sysctl-1"), "sysctl-1", props))?.value).toBe("0");
  });

  // Delete trusts the claim: without it, it would put nothing back. Gone, `up` makes it again.
  it.each(
    labelled([
      { label: "its claim is missing (a reboot cleared /run)", claim: undefined },
      { label: "another Sysctl holds the claim", claim: "sysctl-2" },
    ]),
  )("reads the Sysctl as gone when %s", async (_label, { claim }) => {
    expect(await sysctlKind.read(reader("1", claim), "sysctl-1", props)).toBeUndefined();
  });
});

describe("a claim on a key", () => {
  it("is a file per namespace, with ':' for the '/' of an interface name", () => {
    expect(sysctlClaimPath(undefined, "net.ipv4.ip_forward")).toBe(
      "/run/linuxnet/sysctl/@host/net.ipv4.ip_forward",
    );
    expect(sysctlClaimPath("ns-blue", "net.ipv4.conf.eth0/100.rp_filter")).toBe(
      "/run/linuxnet/sysctl/ns-blue/net.ipv4.conf.eth0:100.rp_filter",
    );
  });

  it("is one for both spellings of forwarding, which are one setting", () => {
    expect(sysctlClaimPath("ns-blue", "net.ipv4.conf.all.forwarding")).toBe(
      sysctlClaimPath("ns-blue", "net.ipv4.ip_forward"),
    );
    expect(sysctlClaimPath(undefined, "net.ipv4.conf.default.forwarding")).toBe(
      "/run/linuxnet/sysctl/@host/net.ipv4.conf.default.forwarding",
    );
  });
});

describe("othersNeedForwarding, across the kinds that share it", () => {
  it.each(
    labelled([
      {
        label: "a PortForward's rule tagged :fwd",
        tag: "linuxnet:pf-2:fwd",
        except: "linuxnet:nat-1",
        needed: true,
      },
      {
        label: "a PortForward's rule without :fwd",
        tag: "linuxnet:pf-2",
        except: "linuxnet:nat-1",
        needed: false,
      },
      {
        label: "the excepted PortForward itself",
        tag: "linuxnet:pf-1:fwd",
        except: "linuxnet:pf-1",
        needed: false,
      },
      {
        label: "a NatRule's rule, seen by a PortForward",
        tag: "linuxnet:nat-2:fwd",
        except: "linuxnet:pf-1",
        needed: true,
      },
      {
        label: "any rule, with none excepted (a Sysctl asks)",
        tag: "linuxnet:pf-1:fwd",
        except: undefined,
        needed: true,
      },
    ]),
  )("answers %s", (_label, { tag, except, needed }) => {
    expect(othersNeedForwarding([taggedRule(tag, "PREROUTING")], except)).toBe(needed);
  });
});
