/**
 * Reverse-path filtering: strict mode drops a packet whose source the
 * namespace would reach by another interface than the one it came in by.
 * Check `rp_filter`.
 */

import { quoteArgv } from "../../shell/quote";
import { routeGet } from "../evidence";
import { sysctlFix } from "../fixes";
import { rpFilterMode } from "../logic";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";
import type { Link } from "../world";

/** `rp_filter` in `ns` for a packet from the source coming in by `iif`. */
export async function checkRpFilter(
  w: WalkState,
  ns: string | undefined,
  iif: Link,
): Promise<boolean> {
  const all = w.facts.sysctl(ns, "net/ipv4/conf/all/rp_filter");
  const one = w.facts.sysctl(ns, `net/ipv4/conf/${iif.name}/rp_filter`);
  const mode = rpFilterMode(all, one);
  const title = `reverse-path filtering in ${nsLabel(ns)} accepts ${w.srcAddr} on ${iif.name}`;
  const values = `rp_filter: all = ${all ?? "?"}, ${iif.name} = ${one ?? "?"} (the kernel uses the larger: ${["off", "strict", "loose"][mode]})`;
  if (mode === 0) {
    pass(w, "rp_filter", ns, title, values);
    return true;
  }
  const back = await routeGet(w.host, ns, w.srcAddr);
  const kernel = await routeGet(w.host, ns, w.dst, { from: w.srcAddr, iif: iif.name });
  const backDev = back.route?.dev;
  const broken = mode === 1 ? backDev !== iif.name : back.route === undefined;
  if (broken) {
    record(
      w,
      "fail",
      "rp_filter",
      ns,
      title,
      `${values}\n$ ${quoteArgv(back.argv)}\n${back.said}\n` +
        (mode === 1
          ? `the route back to ${w.srcAddr} leaves by ${backDev ?? "nothing"}, not ${iif.name}: strict mode drops the packet\n`
          : "") +
        `$ ${quoteArgv(kernel.argv)}\n${kernel.said}`,
      [sysctlFix(ns, `net.ipv4.conf.${iif.name.replace(/\./g, "/")}.rp_filter`, "2")],
    );
    return false;
  }
  pass(w, "rp_filter", ns, title, `${values}; the route back to ${w.srcAddr} is by ${backDev}`);
  return true;
}
