/**
 * One stack, several hosts: on each host a bridge with the gateway address of
 * the host's own subnet, two namespaces (`<site>-web`, `<site>-db`), each
 * with a veth to the bridge and a default route through the gateway, and a
 * ConnectivityCheck that web reaches db (so `pulumi up` fails, with the
 * doctor's report, if it does not).
 *
 * The connections come from one secret config object, `hosts`, a list with a
 * connection per site; being secret, the private keys stay encrypted in the
 * stack's config and state. The list of sites (and so how many hosts there
 * are) is plain config, since a program must know how many resources it
 * declares before any secret is decrypted.
 */

import * as pulumi from "@pulumi/pulumi";
import * as linuxnet from "pulumi-linuxnet";

const config = new pulumi.Config();
const siteNames = config.getObject<string[]>("sites") ?? ["east", "west"];
const subnets = config.getObject<string[]>("subnets") ?? ["10.31.1.0/24", "10.31.2.0/24"];
const hosts = config.requireSecretObject<linuxnet.ConnectionArgs[]>("hosts");

if (subnets.length !== siteNames.length) {
  throw new Error(
    `config: ${siteNames.length} sites (${siteNames.join(", ")}) but ${subnets.length} subnets; give one /24 per site`,
  );
}

/** The addresses of one site's /24: the namespaces take .1 and .2, the bridge .254. */
function plan(subnet: string) {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(subnet);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) {
    throw new Error(`config: subnet ${JSON.stringify(subnet)} must be a /24 like 10.31.1.0/24`);
  }
  const net = m.slice(1).join(".");
  return { subnet, web: `${net}.1`, db: `${net}.2`, gateway: `${net}.254` };
}

function site(name: string, index: number, subnet: string) {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(name)) {
    // The site name prefixes interface names, which the kernel limits to 15 bytes.
    throw new Error(`config: site name ${JSON.stringify(name)} must be 1-6 of a-z, 0-9`);
  }
  const addr = plan(subnet);
  // This site's connection: a secret Output, so its key never shows in plain text.
  const connection = hosts.apply((list) => {
    if (list.length !== siteNames.length) {
      throw new Error(
        `config: ${siteNames.length} sites (${siteNames.join(", ")}) but ${list.length} hosts; give one connection per site`,
      );
    }
    return list[index];
  });

  const bridge = new linuxnet.Bridge(`${name}-br`, {
    connection,
    name: `br-${name}`,
    addresses: [`${addr.gateway}/24`],
    // Hosts with a DROP policy on FORWARD (Docker's) would drop bridged traffic otherwise.
    acceptForwarding: true,
  });

  const member = (role: "web" | "db", address: string) => {
    const ns = new linuxnet.Namespace(`${name}-${role}`, { connection, name: `${name}-${role}` });
    const veth = new linuxnet.VethPair(`${name}-${role}`, {
      connection,
      // Inside the namespace the end is its eth0, as in a container.
      a: { name: "eth0", namespace: ns.name, addresses: [`${address}/24`] },
      b: { name: `${name}-${role}-br`, bridge: bridge.name },
    });
    const route = new linuxnet.Route(
      `${name}-${role}-default`,
      { connection, namespace: ns.name, destination: "default", via: addr.gateway },
      // The gateway is reachable only once the veth end has its address.
      { dependsOn: [veth] },
    );
    return { ns, veth, route };
  };

  const web = member("web", addr.web);
  const db = member("db", addr.db);

  const check = new linuxnet.ConnectivityCheck(
    `${name}-web-to-db`,
    {
      connection,
      from: { namespace: web.ns.name },
      to: { namespace: db.ns.name, address: addr.db },
    },
    { dependsOn: [web.veth, db.veth, web.route, db.route] },
  );

  return {
    bridge: bridge.name,
    subnet: addr.subnet,
    namespaces: { web: web.ns.name, db: db.ns.name },
    addresses: { web: addr.web, db: addr.db, gateway: addr.gateway },
    interfaces: { web: web.veth.aName, db: db.veth.aName },
    check: check.summary,
  };
}

/** Per site (one per host): its bridge, namespaces and addresses, and the check's verdict. */
export const sites = Object.fromEntries(siteNames.map((s, i) => [s, site(s, i, subnets[i]!)]));
