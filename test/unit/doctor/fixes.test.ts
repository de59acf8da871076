import { describe, expect, it } from "vitest";
import {
  acceptFix,
  fixText,
  ipFix,
  linkUpFix,
  masqueradeFix,
  portForwardingFix,
  sysctlFix,
} from "../../../provider/doctor/fixes";

describe("the doctor's fixes", () => {
  it.each([
    ["a link up on the host", linkUpFix(undefined, "br0"), "ip link set dev br0 up"],
    [
      "a link up in a namespace",
      linkUpFix("ns-blue", "veth-blue"),
      "ip -n ns-blue link set dev veth-blue up",
    ],
    [
      "a route",
      ipFix("ns-blue", "route", "add", "default", "via", "10.0.0.254"),
      "ip -n ns-blue route add default via 10.0.0.254",
    ],
    [
      "a bridge port set to forwarding",
      portForwardingFix("ns-x", "p1"),
      "ip netns exec ns-x bridge link set dev p1 state 3",
    ],
    [
      "an ACCEPT first in FORWARD",
      acceptFix(undefined, "FORWARD", "-i", "br0", "-o", "br0"),
      "iptables -w -t filter -I FORWARD 1 -i br0 -o br0 -j ACCEPT",
    ],
    [
      "a MASQUERADE",
      masqueradeFix(undefined, "10.0.0.0/24", "eth0"),
      "iptables -w -t nat -A POSTROUTING -s 10.0.0.0/24 -o eth0 -j MASQUERADE",
    ],
    [
      "a sysctl in a namespace",
      sysctlFix("ns-green", "net.ipv4.ip_forward", "1"),
      "ip netns exec ns-green sysctl -w net.ipv4.ip_forward=1",
    ],
  ])("builds %s", (_label, argv, text) => {
    expect(fixText([argv])).toBe(text);
  });

  it("joins several commands with && and quotes what the shell would split", () => {
    expect(fixText([linkUpFix(undefined, "a b"), ipFix("ns-1", "link", "show")])).toBe(
      "ip link set dev 'a b' up && ip -n ns-1 link show",
    );
  });
});
