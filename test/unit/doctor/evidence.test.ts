import { describe, expect, it } from "vitest";
import { linkLine, routeLine } from "../../../provider/doctor/evidence";

describe("evidence lines", () => {
  it("prints a route as ip route get does", () => {
    expect(
      routeLine({ dst: "1.2.3.4", gateway: "10.0.0.254", dev: "veth-blue", prefsrc: "10.0.0.1" }),
    ).toBe("1.2.3.4 via 10.0.0.254 dev veth-blue src 10.0.0.1");
    expect(routeLine({ type: "local", dst: "10.0.0.1", dev: "lo", iif: "br0" })).toBe(
      "local 10.0.0.1 dev lo iif br0",
    );
  });

  it("prints a link as ip link does, briefly", () => {
    expect(
      linkLine({
        name: "br0",
        ifindex: 3,
        flags: ["UP"],
        mtu: 1500,
        operstate: "UP",
        inet: [{ address: "10.0.0.254", prefixlen: 24 }],
      }),
    ).toBe("br0: <UP> mtu 1500 state UP 10.0.0.254/24");
  });
});
