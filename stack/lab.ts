/**
 * The lab stack: the network that "Building a container network from scratch"
 * builds by hand, as resources. Two namespaces, each with a veth to a bridge
 * that carries their gateway address, default routes through it, and NAT out
 * of the host's egress interface; ns-blue's uplink is shaped to a rate (a slow
 * link to test software against). The connection is the stack's default
 * (`linuxnet:host`, `linuxnet:privateKey`, ...), which `npm run lab` sets to a
 * local lab host when no host is configured.
 */

import * as pulumi from "@pulumi/pulumi";
import { Bridge, LinkShaping, Namespace, NatRule, Route, VethPair } from "../provider";
import { labAddresses } from "./plan";

const config = new pulumi.Config();
const egressInterface = config.get("egressInterface") ?? "eth0";
const plan = labAddresses(config.get("subnet") ?? "10.0.0.0/24");
const namespaceNames = {
  blue: config.get("blueNamespace") ?? "ns-blue",
  green: config.get("greenNamespace") ?? "ns-green",
};

const bridge = new Bridge("br0", {
  name: "br0",
  // More addresses on the bridge (another subnet behind the same switch), from config.
  addresses: [plan.gateway, ...(config.getObject<string[]>("bridgeExtraAddresses") ?? [])],
  // Docker-style hosts drop forwarded traffic by default; bridged traffic passes FORWARD too.
  acceptForwarding: true,
});

function attach(color: "blue" | "green", address: string) {
  const ns = new Namespace(`ns-${color}`, { name: namespaceNames[color] });
  const veth = new VethPair(`veth-${color}`, {
    a: { name: `veth-${color}`, namespace: ns.name, addresses: [address] },
    b: { name: `veth-${color}-br`, bridge: bridge.name },
  });
  const route = new Route(
    `${color}-default`,
    { namespace: ns.name, destination: "default", via: plan.gatewayAddress },
    // The gateway is reachable only once the veth end has its address.
    { dependsOn: [veth] },
  );
  return { ns, veth, route };
}

const blue = attach("blue", plan.blue);
const green = attach("green", plan.green);

// What leaves ns-blue toward the bridge goes at this rate (tbf; the rate updates in place).
const blueUplink = new LinkShaping("blue-uplink", {
  namespace: blue.ns.name,
  device: blue.veth.aName,
  rate: config.get("blueUplinkRate") ?? "100mbit",
});

const egress = new NatRule("egress", {
  source: plan.subnet,
  outInterface: egressInterface,
});

export const namespaces = [blue.ns.name, green.ns.name];
export const bridgeName = bridge.name;
export const addresses = { blue: plan.blue, green: plan.green, gateway: plan.gateway };
export const veths = {
  blue: [blue.veth.aName, blue.veth.bName],
  green: [green.veth.aName, green.veth.bName],
};
export const natTag = egress.tag;
export const blueUplinkRate = blueUplink.rate;
export const connectivity = pulumi.interpolate`ns-blue ${plan.blue} <-> ns-green ${plan.green} over ${bridge.name}; both route via ${plan.gatewayAddress} and leave by ${egressInterface} masqueraded (${egress.tag})`;
