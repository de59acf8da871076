# Sourced by scripts/test.sh and scripts/lab.sh: makes a fresh Debian machine
# ready, as root, and does nothing that is already done:
#   Debian packages (sshd, iproute2, iptables, nftables, ping, sudo, git; iperf3 and unshare for the shaping tests), npm ci, the build,
#   the package linked under its own name, and the Pulumi engine (LINUXNET_ENGINE_BIN is exported).

setup_fail() {
  echo "setup: $*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || setup_fail "run as root: lab hosts are network namespaces with their own sshd"
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

setup_packages="openssh-server openssh-client iptables nftables iproute2 iputils-ping sudo procps curl ca-certificates git tar iperf3 util-linux"
missing=""
for p in $setup_packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || setup_fail "apt-get update failed"
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null || setup_fail "apt-get install$missing failed"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2 || setup_fail "npm ci failed"
fi

npx tsc -p tsconfig.json || setup_fail "the TypeScript build failed"

# The repository's own stacks (the lab stack, examples, tests) load the package
# by name, as a user's stacks do: every resource's stored provider requires
# "pulumi-linuxnet/dist/provider/runtime.js" from the project's directory (see
# provider/resources/program.ts). This link makes that name resolve here.
ln -sfn .. node_modules/pulumi-linuxnet || setup_fail "could not link node_modules/pulumi-linuxnet"

LINUXNET_ENGINE_BIN=$(bash scripts/install-engine.sh) || setup_fail "no Pulumi engine (see above)"
export LINUXNET_ENGINE_BIN
