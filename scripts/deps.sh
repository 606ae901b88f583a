#!/bin/sh
# Install the Debian packages the build, the tests, the demo and the bench
# need, when any is missing.  Needs root for the install; does nothing when
# all are there.  `deps.sh --list` prints the list, one package a line
# (tests/deps/deps_complete.sh proves it is complete; libclang-rt-14-dev,
# the libFuzzer and sanitizer runtimes clang links the fuzz targets with,
# only `make fresh` proves: nothing names it but the compiler driver).
set -eu
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev libssl-dev libevent-dev libsqlite3-dev
libpq-dev libmnl-dev libinih-dev libcmocka-dev libnftables-dev libcap-dev iproute2 nftables
udhcpc isc-dhcp-client dnsutils iperf3 netcat-openbsd arping curl jq busybox
procps iputils-ping postgresql sqlite3 wireguard-go wireguard-tools nebula openssl dnsmasq-base
tcpdump conntrack mmdebstrap prometheus dhcpcd-base ndisc6 systemd groff-base dpkg-dev file
chromium chromium-driver python3-selenium"
if [ "${1:-}" = --list ]; then
	printf '%s\n' $PKGS
	exit 0
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: run as root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
