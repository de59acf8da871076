/**
 * LinkShaping on a real lab host over real SSH, driven through the dynamic
 * provider: a veth between two namespaces, shaped on one end. Real traffic
 * measures the rate (iperf3) and, where the kernel has sch_netem, the delay
 * (ping). Where it has not, those tests are reported as not verified, and a
 * netem value must fail at create naming the module, changing nothing.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Driver,
  addNamespace,
  afterFailure,
  inNs,
  ipIn,
  oob,
  oobAll,
  oobResult,
  removeNamespace,
  useLabHost,
} from "../support";
import { snapshotHost } from "../../support/snapshot";
import { kernelLacksQdisc, notVerified } from "../../support/not-verified";
import { NETEM_HANDLE, TBF_HANDLE } from "../../../provider/resources/shaping";

const ctx = useLabHost("sh1");
const shaping = () => new Driver("LinkShaping", ctx);
const A = "sh-a";
const B = "sh-b";
const DEV = "sa";

interface SeenQdisc {
  kind: string;
  handle: string;
  root?: boolean;
  options?: Record<string, unknown>;
}

/** The root qdisc of `dev` in `ns`, out of band. */
async function rootOf(ns: string, dev: string): Promise<SeenQdisc | undefined> {
  const out = await oob(ctx.h, ["tc", "-n", ns, "-json", "qdisc", "show", "dev", dev]);
  return (JSON.parse(out.trim() || "[]") as SeenQdisc[]).find((q) => q.root);
}

/** Out of band: the root qdisc back to the kernel's default, whoever put one there. */
async function resetRoot(): Promise<void> {
  await oobResult(ctx.h, ["tc", "-n", A, "qdisc", "del", "dev", DEV, "root"]);
}

beforeAll(async () => {
  await addNamespace(ctx.h, A);
  await addNamespace(ctx.h, B);
  await oobAll(ctx.h, [
    ipIn(A, "link", "add", DEV, "type", "veth", "peer", "name", "sb", "netns", B),
    ipIn(A, "addr", "add", "10.90.0.1/24", "dev", DEV),
    ipIn(B, "addr", "add", "10.90.0.2/24", "dev", "sb"),
    ipIn(A, "link", "set", DEV, "up"),
    ipIn(B, "link", "set", "sb", "up"),
  ]);
});

afterAll(async () => {
  if (!ctx.h) return;
  await removeNamespace(ctx.h, A);
  await removeNamespace(ctx.h, B);
});

afterFailure(resetRoot);

describe("LinkShaping", () => {
  it("shapes a rate with tbf, reads it back, updates it in place, and deletes it twice", async () => {
    const before = await snapshotHost(ctx.h);
    const d = shaping();
    const res = await d.create({ namespace: A, device: DEV, rate: "10mbit" });
    expect(res.id).toBe(`${A}/${DEV}`);
    expect(res.outs).toMatchObject({ qdisc: "tbf", qdiscBefore: "noqueue", rate: "10mbit" });
    expect(await rootOf(A, DEV)).toMatchObject({
      kind: "tbf",
      handle: TBF_HANDLE,
      options: { rate: 1_250_000, burst: 12_500, lat: 50_000 },
    });
    await d.expectNoDrift(res);

    // The same qdisc, its rate changed in place by `tc qdisc replace`.
    const updated = await d.update(res, { namespace: A, device: DEV, rate: "20mbit" });
    expect(await rootOf(A, DEV)).toMatchObject({
      kind: "tbf",
      handle: TBF_HANDLE,
      options: { rate: 2_500_000 },
    });
    await d.expectNoDrift(updated);

    await d.delete(updated);
    expect(await rootOf(A, DEV)).toMatchObject({ kind: "noqueue", handle: "0:" });
    await d.delete(updated);
    expect(await snapshotHost(ctx.h)).toEqual(before);
  });

  it("sees drift: a rate changed out of band, the qdisc deleted, and replaced by someone else's", async () => {
    const d = shaping();
    const res = await d.create({ namespace: A, device: DEV, rate: "10mbit" });

    // Changed in place by someone: drift in the value, which the next up puts back as an update.
    await oob(ctx.h, [
      ..."tc -n sh-a qdisc change dev sa root handle 4c54: tbf".split(" "),
      ..."rate 3mbit burst 12500 latency 50ms".split(" "),
    ]);
    const drifted = await d.read(res);
    expect(drifted).toMatchObject({ rate: "3mbit" });
    const diff = await d.provider.diff!(res.id, drifted!, res.inputs);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    const repaired = await d.update({ ...res, outs: drifted! }, res.inputs);
    expect((await rootOf(A, DEV))?.options).toMatchObject({ rate: 1_250_000 });

    // Deleted out of band: gone, so that an up recreates it.
    await resetRoot();
    expect(await d.read(repaired)).toBeUndefined();
    const again = await d.create({ namespace: A, device: DEV, rate: "10mbit" });

    // Replaced by someone else's qdisc: ours is gone, theirs is not ours to delete or take over.
    await oob(ctx.h, [
      ..."tc -n sh-a qdisc replace dev sa root handle 1: tbf".split(" "),
      ..."rate 5mbit burst 8192 latency 50ms".split(" "),
    ]);
    expect(await d.read(again)).toBeUndefined();
    await d.delete(again);
    expect(await rootOf(A, DEV)).toMatchObject({ kind: "tbf", handle: "1:" });
    const refused = await d.createFails({ namespace: A, device: DEV, rate: "10mbit" });
    expect(refused.message).toMatch(
      /sa already has a root qdisc that this resource did not make \(tbf 1:\).*tc -n sh-a qdisc del dev sa root/,
    );
    expect(await rootOf(A, DEV)).toMatchObject({ kind: "tbf", handle: "1:" });
    await resetRoot();
  });

  it("refuses an interface that is not there, saying so", async () => {
    const error = await shaping().createFails({ namespace: A, device: "nope0", rate: "1mbit" });
    expect(error.message).toContain(ctx.h.address);
    expect(error.message).toMatch(/cannot shape nope0 in namespace sh-a: it is not there/);
  });

  it("carries a transfer at the configured rate, within 20%", async () => {
    const d = shaping();
    const res = await d.create({ namespace: A, device: DEV, rate: "10mbit" });
    const pidFile = "/tmp/linuxnet-sh1-iperf3.pid";
    try {
      await oob(ctx.h, inNs(B, ["iperf3", "-s", "-1", "-D", "-B", "10.90.0.2", "-I", pidFile]));
      // The server daemonises before it listens; the client retries for a moment.
      let out = "";
      for (let attempt = 0; attempt < 20; attempt++) {
        const r = await oobResult(
          ctx.h,
          inNs(A, ["iperf3", "-c", "10.90.0.2", "-t", "4", "-O", "1", "-J"]),
        );
        out = r.stdout;
        if (r.exitCode === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const report = JSON.parse(out) as {
        end: { sum_received: { bits_per_second: number } };
      };
      const measured = report.end.sum_received.bits_per_second;
      console.log(
        `LinkShaping: rate 10mbit, iperf3 measured ${(measured / 1e6).toFixed(2)} Mbit/s received`,
      );
      expect(measured).toBeGreaterThan(8e6);
      expect(measured).toBeLessThan(12e6);
    } finally {
      await oobResult(ctx.h, [
        "sh",
        "-c",
        `[ -f ${pidFile} ] && kill $(cat ${pidFile}); rm -f ${pidFile}`,
      ]);
      await d.delete(res);
    }
  });

  it("delays by netem, measured by ping", async (t) => {
    const lacks = await kernelLacksQdisc(ctx.h, "netem");
    if (lacks) notVerified(t, lacks);
    const d = shaping();
    const res = await d.create({ namespace: A, device: DEV, delay: "40ms" });
    try {
      expect(await rootOf(A, DEV)).toMatchObject({ kind: "netem", handle: NETEM_HANDLE });
      await d.expectNoDrift(res);
      const out = await oob(ctx.h, inNs(A, ["ping", "-c", "5", "-i", "0.2", "10.90.0.2"]));
      const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(out)?.[1]);
      console.log(`LinkShaping: delay 40ms, ping RTT avg ${avg} ms`);
      expect(avg).toBeGreaterThanOrEqual(40);
      expect(avg).toBeLessThan(60);
    } finally {
      await d.delete(res);
    }
  });

  it("fails at create when the kernel lacks sch_netem, naming it and the values, and changes nothing", async (t) => {
    if (!(await kernelLacksQdisc(ctx.h, "netem"))) {
      notVerified(t, "kernel has sch_netem: the missing-module error cannot be shown here");
    }
    const before = await snapshotHost(ctx.h);
    const error = await shaping().createFails({
      namespace: A,
      device: DEV,
      rate: "10mbit",
      delay: "40ms",
      loss: 1,
    });
    expect(error.message).toContain(ctx.h.address);
    expect(error.message).toMatch(
      /rate, delay, loss on sa need the kernel module sch_netem, which this host's kernel does not have .*Specified qdisc kind is unknown.*nothing was changed/,
    );
    expect(await snapshotHost(ctx.h)).toEqual(before);
  });
});
