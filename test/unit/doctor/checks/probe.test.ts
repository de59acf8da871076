import { describe, expect, it } from "vitest";
import { pingSummary } from "../../../../provider/doctor/checks/probe";

describe("pingSummary", () => {
  it("keeps the lines of ping's output that say what happened", () => {
    const out =
      "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.1 ms\n\n--- 10.0.0.2 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, time 0ms\nrtt min/avg/max/mdev = 0.1/0.1/0.1/0.0 ms\n";
    expect(pingSummary(out, "").split("\n")).toEqual([
      "64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.1 ms",
      "1 packets transmitted, 1 received, 0% packet loss, time 0ms",
      "rtt min/avg/max/mdev = 0.1/0.1/0.1/0.0 ms",
    ]);
  });
});
