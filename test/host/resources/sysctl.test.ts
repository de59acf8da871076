/**
 * Sysctl on a real lab host over real SSH, driven through the dynamic
 * provider: a setting set, read, updated, drifted and put back as found;
 * a key the kernel lacks; two Sysctls on one key; and forwarding shared with
 * NatRule. Only net.* settings are touched: a lab host is a network namespace
 * of this machine, and any other key would be the machine's own.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Driver,
  addNamespace,
  addUplink,
  afterFailure,
  connectionsOpened,
  inNs,
  ipForward,
  oob,
  oobResult,
  removeNamespace,
  setIpForward,
  useLabHost,
} from "../support";
import { snapshotHost } from "../../support/snapshot";

const ctx = useLabHost("sy1");
const sysctl = () => new Driver("Sysctl", ctx);
const NS = "sy-ns";
const RPF = "net/ipv4/conf/all/rp_filter";

/** A setting as the kernel prints it, read out of band. */
async function setting(ns: string | undefined, file: string): Promise<string> {
  return (await oob(ctx.h, inNs(ns, ["cat", `/proc/sys/${file}`]))).replace(/\n$/, "");
}

/** Sets a setting out of band, as someone else would. */
async function setSetting(ns: string | undefined, file: string, value: string): Promise<void> {
  await oob(ctx.h, inNs(ns, ["sh", "-c", `echo "${value}" > /proc/sys/${file}`]));
}

/** What our resources keep on the lab host outside the kernel's settings. */
async function runState(): Promise<string> {
  return (await oobResult(ctx.h, ["find", "/run/linuxnet", "-mindepth", "1"])).stdout.trim();
}

/** Everything a Sysctl here could touch: the host snapshot and the settings the tests use. */
async function picture() {
  const files = ["net/ipv4/conf/all/rp_filter", "net/ipv4/ping_group_range", "net/ipv4/ip_forward"];
  const values: Record<string, string> = {};
  for (const ns of [undefined, NS]) {
    for (const f of files) values[`${ns ?? "@host"} ${f}`] = await setting(ns, f);
  }
  return { host: await snapshotHost(ctx.h), values, run: await runState() };
}

beforeAll(async () => {
  await addNamespace(ctx.h, NS);
});

afterAll(async () => {
  if (ctx.h) await removeNamespace(ctx.h, NS);
});

afterFailure(async () => {
  await oob(ctx.h, ["rm", "-rf", "/run/linuxnet/sysctl", "/run/linuxnet/ip_forward"]);
  for (const ns of [undefined, NS]) {
    await setSetting(ns, "net/ipv4/conf/all/rp_filter", "0");
    await oob(ctx.h, inNs(ns, ["iptables", "-w", "-t", "nat", "-F"]));
    await setIpForward(ctx.h, ns, 0);
  }
});

describe("Sysctl", () => {
  it("sets a key on the host, reads it, updates it in place, shows drift, and puts it back as found on delete", async () => {
    const before = await picture();
    const found = await setting(undefined, "net/ipv4/conf/all/rp_filter");
    const d = sysctl();
    const res = await d.create({ key: "net.ipv4.conf.all.rp_filter", value: "2" });
    expect(res.id).toMatch(/^sysctl-[0-9a-f]{8}$/);
    expect(res.outs.valueBefore).toBe(found);
    expect(await setting(undefined, "net/ipv4/conf/all/rp_filter")).toBe("2");
    await d.expectNoDrift(res);

    const updated = await d.update(res, { key: "net.ipv4.conf.all.rp_filter", value: "1" });
    expect(await setting(undefined, "net/ipv4/conf/all/rp_filter")).toBe("1");
    expect(updated.outs.valueBefore).toBe(found);
    await d.expectNoDrift(updated);

    // Someone changes it behind our back: a refresh reports the kernel's value, and up puts ours back.
    await setSetting(undefined, "net/ipv4/conf/all/rp_filter", "0");
    const drifted = await d.read(updated);
    expect(drifted?.value).toBe("0");
    const diff = await d.provider.diff!(updated.id, drifted!, updated.inputs);
    expect(diff.changes).toBe(true);
    expect(diff.replaces ?? []).toEqual([]);
    await d.provider.update!(updated.id, drifted!, updated.inputs);
    expect(await setting(undefined, "net/ipv4/conf/all/rp_filter")).toBe("1");

    await d.delete(updated);
    expect(await picture()).toEqual(before);
    await d.delete(updated);
    expect(await picture()).toEqual(before);
    expect(connectionsOpened(ctx)).toBe(1);
  });

  it("compares a multi-value key as the kernel prints it (a tab), in a namespace, given as a path", async () => {
    const before = await picture();
    const d = sysctl();
    const res = await d.create({
      namespace: NS,
      key: "net/ipv4/ping_group_range",
      value: "1000 2000",
    });
    expect(res.inputs.key).toBe("net.ipv4.ping_group_range");
    expect(res.outs.valueBefore).toBe("1\t0");
    expect(await setting(NS, "net/ipv4/ping_group_range")).toBe("1000\t2000");
    // The kernel's tab is no drift against the space the user wrote; the host's own value is untouched.
    await d.expectNoDrift(res);
    expect(await setting(undefined, "net/ipv4/ping_group_range")).toBe(
      before.values["@host net/ipv4/ping_group_range"],
    );
    await d.delete(res);
    expect(await picture()).toEqual(before);
  });

  it("reads a setting whose interface went away as gone, and deletes it without a fault", async () => {
    await addUplink(ctx.h, NS, "sy.1", "10.90.0.1/24");
    const d = sysctl();
    const res = await d.create({ namespace: NS, key: "net.ipv4.conf.sy/1.rp_filter", value: "2" });
    expect(await setting(NS, "net/ipv4/conf/sy.1/rp_filter")).toBe("2");
    await d.expectNoDrift(res);
    await oob(ctx.h, ["ip", "-n", NS, "link", "delete", "sy.1"]);
    expect(await d.read(res)).toBeUndefined();
    await d.delete(res);
    expect(await runState()).toBe("");
  });

  it("fails to create a key the kernel does not have, naming it, and leaves nothing behind", async () => {
    const before = await picture();
    const error = await sysctl().createFails({ key: "net.ipv4.no_such_setting", value: "1" });
    expect(error.message).toContain(ctx.h.address);
    expect(error.message).toContain("net.ipv4.no_such_setting");
    expect(error.message).toContain("/proc/sys/net/ipv4/no_such_setting does not exist");
    expect(await picture()).toEqual(before);
  });

  it("fails on a value the kernel refuses, with the kernel's words, and leaves nothing behind", async () => {
    const before = await picture();
    const error = await sysctl().createFails({ key: "net.ipv4.conf.all.rp_filter", value: "two" });
    expect(error.message).toContain(ctx.h.address);
    expect(error.message).toMatch(/Invalid argument/);
    expect(await picture()).toEqual(before);
  });

  it("fails in a namespace that is not there, with the kernel's words", async () => {
    const error = await sysctl().createFails({
      namespace: "sy-none",
      key: "net.ipv4.ip_forward",
      value: "1",
    });
    expect(error.message).toMatch(/Cannot open network namespace "sy-none"/);
    expect(await runState()).toBe("");
  });

  it("refuses a second Sysctl on the same key, naming the first, and keeps the first's value to put back", async () => {
    const before = await picture();
    const d = sysctl();
    const first = await d.create({ key: "net.ipv4.conf.all.rp_filter", value: "2" });
    const error = await d.createFails({ key: "net/ipv4/conf/all/rp_filter", value: "1" });
    expect(error.message).toContain(`already set by Sysctl ${first.id}`);
    expect(await setting(undefined, "net/ipv4/conf/all/rp_filter")).toBe("2");
    // The same key in another namespace is another setting.
    const other = await d.create({ namespace: NS, key: "net.ipv4.conf.all.rp_filter", value: "1" });
    await d.delete(other);
    await d.delete(first);
    expect(await picture()).toEqual(before);
  });

  it("reads a Sysctl whose claim a reboot cleared as gone; made again, its delete puts the value from before back", async () => {
    const before = await picture();
    const found = await setting(undefined, RPF);
    const target = found === "2" ? "1" : "2";
    const d = sysctl();
    const res = await d.create({ key: "net.ipv4.conf.all.rp_filter", value: target });
    // A reboot: /run is emptied, and the kernel starts from the value found before.
    await oob(ctx.h, ["rm", "-rf", "/run/linuxnet/sysctl"]);
    await setSetting(undefined, RPF, found);
    // Refresh: gone (with no claim its delete would put nothing back), so `up` makes it again.
    expect(await d.read(res)).toBeUndefined();
    const again = await d.create({ key: "net.ipv4.conf.all.rp_filter", value: target });
    expect(again.outs.valueBefore).toBe(found);
    expect(await setting(undefined, RPF)).toBe(target);
    await d.expectNoDrift(again);
    await d.delete(again);
    expect(await picture()).toEqual(before);
  });

  it("writes back at update a claim it finds missing (an up without refresh), so delete still puts the value back", async () => {
    const before = await picture();
    const found = await setting(undefined, RPF);
    const [first, second] = found === "2" ? ["1", "0"] : found === "1" ? ["2", "0"] : ["2", "1"];
    const d = sysctl();
    const res = await d.create({ key: "net.ipv4.conf.all.rp_filter", value: first });
    await oob(ctx.h, ["rm", "-rf", "/run/linuxnet/sysctl"]);
    const updated = await d.update(res, { key: "net.ipv4.conf.all.rp_filter", value: second });
    expect(await setting(undefined, RPF)).toBe(second);
    expect(await runState()).toContain(`/run/linuxnet/sysctl/@host/net.ipv4.conf.all.rp_filter`);
    await d.expectNoDrift(updated);
    await d.delete(updated);
    expect(await picture()).toEqual(before);
  });

  it("holds both spellings of forwarding under one claim, and respells one by deleting first", async () => {
    const before = await picture();
    expect(await ipForward(ctx.h, NS)).toBe("0");
    const d = sysctl();
    const first = await d.create({ namespace: NS, key: "net.ipv4.ip_forward", value: "1" });
    // The other spelling is the same setting: refused, rather than the two fighting over it.
    const error = await d.createFails({
      namespace: NS,
      key: "net.ipv4.conf.all.forwarding",
      value: "1",
    });
    expect(error.message).toContain(`already set by Sysctl ${first.id}`);
    expect(await ipForward(ctx.h, NS)).toBe("1");

    // Respelled: a replacement that deletes first, so the new one records the value from before.
    const inputs = await d.check(
      { namespace: NS, key: "net.ipv4.conf.all.forwarding", value: "1" },
      first.inputs,
    );
    const diff = await d.provider.diff!(first.id, first.outs, inputs);
    expect(diff.replaces).toEqual(["key"]);
    expect(diff.deleteBeforeReplace).toBe(true);
    await d.delete(first);
    const made = await d.provider.create(inputs);
    expect(made.outs.valueBefore).toBe("0");
    expect(await ipForward(ctx.h, NS)).toBe("1");
    await d.delete({ id: made.id, inputs, outs: made.outs as Record<string, unknown> });
    expect(await picture()).toEqual(before);
  });

  it("takes over ip_forward from a NatRule that turned it on, and hands it back: the last one to go puts 0 back", async () => {
    const before = await picture();
    expect(await ipForward(ctx.h, NS)).toBe("0");
    const nat = new Driver("NatRule", ctx);
    const d = sysctl();

    // A Sysctl that would turn forwarding off under a rule that needs it is refused.
    const rule = await nat.create({ namespace: NS, source: "10.91.0.0/24" });
    expect(await ipForward(ctx.h, NS)).toBe("1");
    const refused = await d.createFails({ namespace: NS, key: "net.ipv4.ip_forward", value: "0" });
    expect(refused.message).toMatch(/need forwarding on/);

    // A Sysctl of 1 takes over the value NatRule recorded: the rule's delete leaves forwarding on.
    const fwd = await d.create({ namespace: NS, key: "net.ipv4.ip_forward", value: "1" });
    expect(fwd.outs.valueBefore).toBe("0");
    await nat.delete(rule);
    expect(await ipForward(ctx.h, NS)).toBe("1");

    // A rule made while the Sysctl holds 1 records nothing; the Sysctl's delete hands 0 to it.
    const later = await nat.create({ namespace: NS, source: "10.92.0.0/24" });
    await d.delete(fwd);
    expect(await ipForward(ctx.h, NS)).toBe("1");
    await nat.delete(later);
    expect(await ipForward(ctx.h, NS)).toBe("0");
    expect(await picture()).toEqual(before);
  });

  it("refuses a NatRule that needs forwarding where a Sysctl holds it off", async () => {
    const before = await picture();
    const d = sysctl();
    const off = await d.create({ namespace: NS, key: "net.ipv4.conf.all.forwarding", value: "0" });
    const error = await new Driver("NatRule", ctx).createFails({
      namespace: NS,
      source: "10.93.0.0/24",
    });
    expect(error.message).toContain(`held at 0 by Sysctl ${off.id}`);
    await d.delete(off);
    expect(await picture()).toEqual(before);
  });
});
