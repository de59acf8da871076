/**
 * The lab stack: the network that "Building a container network from scratch"
 * builds by hand, as resources. Two namespaces, each with a veth to a bridge
 * that carries their gateway address, default routes through it, and NAT out
 * of the host's egress interface. Beyond the article: a port forward from the
 * host's port 8080 (`webPort`) to port 80 in ns-green, also for the host's own
 * connections, loose reverse-path filtering in ns-blue (`blueRpFilter`), and ns-blue's uplink
 * shaped to a rate (a slow link to test software against). The connection is the stack's default
 * (`linuxnet:host`, `linuxnet:privateKey`, ...), which `npm run lab` sets to a
 * local lab host when no host is configured.
 */

import * as pulumi from "@pulumi/pulumi";
import {
  Bridge,
  LinkShaping,
  Namespace,
  NatRule,
  PortForward,
  Route,
  Sysctl,
  VethPair,
} from "../provider";
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

// A service on port 80 in ns-green, reached on the host's own addresses (and from the host itself).
const web = new PortForward(
  "green-web",
  {
    hostPort: config.getNumber("webPort") ?? 8080,
    to: `${plan.green.split("/")[0]}:80`,
    fromHost: true,
  },
  // The bridge's network must be there for the hairpin rule (ns-blue reaching ns-green this way).
  { dependsOn: [green.veth] },
);

// Loose reverse-path filtering in ns-blue, as a multi-homed namespace needs; put back on destroy.
const rpFilter = new Sysctl("blue-rp-filter", {
  namespace: blue.ns.name,
  key: "net.ipv4.conf.all.rp_filter",
  value: config.get("blueRpFilter") ?? "2",
});

export const namespaces = [blue.ns.name, green.ns.name];
export const bridgeName = bridge.name;
export const addresses = { blue: plan.blue, green: plan.green, gateway: plan.gateway };
export const veths = {
  blue: [blue.veth.aName, blue.veth.bName],
  green: [green.veth.aName, green.veth.bName],
};
export const natTag = egress.tag;
export const webForward = pulumi.interpolate`${web.hostPort} -> ${web.to} (${web.tag})`;
export const blueRpFilter = rpFilter.value;
export const blueUplinkRate = blueUplink.rate;
export const connectivity = pulumi.interpolate`ns-blue ${plan.blue} <-> ns-green ${plan.green} over ${bridge.name}; both route via ${plan.gatewayAddress} and leave by ${egressInterface} masqueraded (${egress.tag})`;
