/**
 * A cloud VM and the network inside it, in one stack: an EC2 instance whose
 * public IP is the `host` of the connection that every linuxnet resource
 * uses. Pulumi creates the instance first (the resources depend on its
 * `publicIp` output), and the first linuxnet resource keeps retrying SSH for
 * up to `dialTimeoutMs` while the VM boots and sshd comes up.
 *
 * The SSH key is imported: its public half becomes an EC2 key pair (so the
 * image's cloud-init authorizes it for the default user), its private half is
 * secret config that stays encrypted in the stack's config and state.
 */

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as linuxnet from "pulumi-linuxnet";

const config = new pulumi.Config();
const sshCidr = config.require("sshCidr");
const instanceType = config.get("instanceType") ?? "t3.micro";

// Ubuntu 24.04 LTS from Canonical's account: iproute2, iptables and sudo are in the image.
const ami = aws.ec2.getAmiOutput({
  owners: ["099720109477"],
  mostRecent: true,
  filters: [
    { name: "name", values: ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"] },
    { name: "architecture", values: ["x86_64"] },
  ],
});

const keyPair = new aws.ec2.KeyPair("linuxnet", { publicKey: config.require("sshPublicKey") });

const sshOnly = new aws.ec2.SecurityGroup("linuxnet-ssh", {
  description: "SSH for pulumi-linuxnet",
  ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: [sshCidr] }],
  egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
});

const vm = new aws.ec2.Instance("linuxnet-vm", {
  ami: ami.id,
  instanceType,
  keyName: keyPair.keyName,
  vpcSecurityGroupIds: [sshOnly.id],
  associatePublicIpAddress: true,
  tags: { Name: "linuxnet-example" },
});

/** How every resource below reaches the VM: known only once the instance exists. */
const connection: linuxnet.ConnectionArgs = {
  host: vm.publicIp,
  user: "ubuntu", // the image's default user; every command runs through `sudo -n`
  sudo: true,
  privateKey: config.requireSecret("sshPrivateKey"),
  // Pin the VM's host key once you know it (`pulumi config set hostKey SHA256:...`);
  // until then any key is accepted on the first connection.
  hostKey: config.get("hostKey") || undefined,
  // A fresh instance takes a minute or two before sshd answers: keep dialling for five.
  dialTimeoutMs: 5 * 60_000,
};

// Every network resource goes with the VM: `pulumi destroy` deletes the instance and drops
// them without dialling it once per object (nor failing on a VM that is already gone).
const withVm: pulumi.CustomResourceOptions = { deletedWith: vm };

// The network: two namespaces on a bridge, as in "Building a container network from scratch".
const bridge = new linuxnet.Bridge(
  "br0",
  { connection, name: "br0", addresses: ["10.0.0.254/24"], acceptForwarding: true },
  withVm,
);

function member(color: string, address: string) {
  const ns = new linuxnet.Namespace(`ns-${color}`, { connection, name: `ns-${color}` }, withVm);
  const veth = new linuxnet.VethPair(
    `veth-${color}`,
    {
      connection,
      a: { name: `veth-${color}`, namespace: ns.name, addresses: [`${address}/24`] },
      b: { name: `veth-${color}-br`, bridge: bridge.name },
    },
    withVm,
  );
  const route = new linuxnet.Route(
    `${color}-default`,
    { connection, namespace: ns.name, destination: "default", via: "10.0.0.254" },
    { ...withVm, dependsOn: [veth] },
  );
  return { ns, veth, route };
}

const blue = member("blue", "10.0.0.1");
const green = member("green", "10.0.0.2");

// Blue and green reach each other through the bridge; `pulumi up` fails with a diagnosis if not.
const check = new linuxnet.ConnectivityCheck(
  "blue-to-green",
  { connection, from: { namespace: blue.ns.name }, to: { address: "10.0.0.2" } },
  { ...withVm, dependsOn: [blue.route, green.route, blue.veth, green.veth] },
);

export const instanceId = vm.id;
export const publicIp = vm.publicIp;
export const ssh = pulumi.interpolate`ssh ubuntu@${vm.publicIp}`;
export const namespaces = [blue.ns.name, green.ns.name];
export const addresses = { blue: "10.0.0.1", green: "10.0.0.2", gateway: "10.0.0.254" };
export const connectivity = check.summary;
