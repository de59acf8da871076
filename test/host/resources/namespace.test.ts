/**
 * Namespace on a real lab host over real SSH, driven through the dynamic
 * provider: create, read, update, drift, delete, delete again.
 */

import { describe, expect, it } from "vitest";
import { transportStats } from "../../../provider/transport";
import {
  Driver,
  connectionsOpened,
  addNamespace,
  expectUserError,
  labelled,
  link,
  namespaces,
  oob,
  removeNamespace,
  useLabHost,
} from "../support";

const ctx = useLabHost("tres1");
const ns = () => new Driver("Namespace", ctx);

async function loopbackUp(name: string): Promise<boolean> {
  return (await link(ctx.h, name, "lo"))!.flags.includes("UP");
}

describe("Namespace", () => {
  it("creates a namespace with lo up that the host lists, and reads it back unchanged", async () => {
    const d = ns();
    const res = await d.create({ name: "ns-blue" });
    expect(res.id).toBe("ns-blue");
    expect(await namespaces(ctx.h)).toContain("ns-blue");
    expect(await loopbackUp("ns-blue")).toBe(true);
    await d.expectNoDrift(res);
    await d.delete(res);
    expect(await namespaces(ctx.h)).not.toContain("ns-blue");
  });

  it("names a namespace from the resource name when none is given, and keeps that name on update", async () => {
    const d = ns();
    const res = await d.create({ resourceName: "blue" });
    const name = res.outs.name as string;
    expect(name).toMatch(/^blue-[0-9a-f]{5}$/);
    expect(await namespaces(ctx.h)).toContain(name);
    const updated = await d.update(res, { resourceName: "blue", loopbackUp: false });
    expect(updated.outs.name).toBe(name);
    expect(await loopbackUp(name)).toBe(false);
    await d.delete(updated);
    expect(await namespaces(ctx.h)).not.toContain(name);
  });

  it.each(
    labelled([
      { label: "from up to down", before: true, after: false },
      { label: "from down to up", before: false, after: true },
    ]),
  )("updates loopbackUp in place %s", async (_label, { before, after }) => {
    const d = ns();
    const res = await d.create({ name: "ns-lo", loopbackUp: before });
    expect(await loopbackUp("ns-lo")).toBe(before);
    const updated = await d.update(res, { name: "ns-lo", loopbackUp: after });
    expect(await loopbackUp("ns-lo")).toBe(after);
    await d.expectNoDrift(updated);
    await d.delete(updated);
  });

  it("reports lo taken down out of band as drift", async () => {
    const d = ns();
    const res = await d.create({ name: "ns-drift" });
    await oob(ctx.h, ["ip", "-n", "ns-drift", "link", "set", "lo", "down"]);
    const props = await d.read(res);
    expect(props).toMatchObject({ name: "ns-drift", loopbackUp: false });
    await d.delete(res);
  });

  it("reads a namespace deleted out of band as gone", async () => {
    const d = ns();
    const res = await d.create({ name: "ns-gone" });
    await oob(ctx.h, ["ip", "netns", "delete", "ns-gone"]);
    expect(await d.read(res)).toBeUndefined();
    // And delete after it vanished is still success.
    await d.delete(res);
  });

  it("deletes idempotently: a second delete of a gone namespace succeeds", async () => {
    const d = ns();
    const res = await d.create({ name: "ns-twice" });
    await d.delete(res);
    expect(await namespaces(ctx.h)).not.toContain("ns-twice");
    await d.delete(res);
    expect(await namespaces(ctx.h)).not.toContain("ns-twice");
  });

  it("refuses a namespace that already exists, naming the host, the command and the kernel's words, and leaves it alone", async () => {
    await addNamespace(ctx.h, "ns-theirs");
    await oob(ctx.h, [
      "ip",
      "-n",
      "ns-theirs",
      "link",
      "add",
      "keep0",
      "type",
      "veth",
      "peer",
      "name",
      "keep1",
    ]);
    try {
      const error = await ns().createFails({ name: "ns-theirs" });
      expectUserError(error, ctx.h, "ip netns add ns-theirs", "File exists");
      expect(error.message).toMatch(/already exists and is not managed by this stack/);
      expect(await namespaces(ctx.h)).toContain("ns-theirs");
      expect(await link(ctx.h, "ns-theirs", "keep0")).toBeDefined();
    } finally {
      await removeNamespace(ctx.h, "ns-theirs");
    }
  });

  it("creates several namespaces at once on one host without racing", async () => {
    const d = ns();
    const names = ["ns-p1", "ns-p2", "ns-p3", "ns-p4", "ns-p5", "ns-p6"];
    const made = await Promise.all(names.map((name) => d.create({ name })));
    const listed = await namespaces(ctx.h);
    for (const name of names) {
      expect(listed).toContain(name);
      expect(await loopbackUp(name)).toBe(true);
    }
    await Promise.all(made.map((res) => d.delete(res)));
    const after = await namespaces(ctx.h);
    for (const name of names) expect(after).not.toContain(name);
  });

  it("left no namespace of its own behind", async () => {
    expect(await namespaces(ctx.h)).toEqual([]);
  });

  it("used one pooled SSH connection for every operation in this file", () => {
    expect(connectionsOpened(ctx)).toBe(1);
    expect(transportStats.commands).toBeGreaterThan(0);
  });
});
