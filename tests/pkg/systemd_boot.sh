#!/bin/bash
# systemd_boot.sh ROOT: what a user checks after `apt install
# ./cyphonic_*.deb` on a Debian 12 with systemd, in ROOT (a root file
# system with the package, systemd, man-db and curl installed; `make
# fresh` makes one).
#
# systemd boots as PID 1 of new PID, mount, network and UTS namespaces
# over ROOT (loopback only: nothing leaves it), and then:
#   - `man cyphonicd` opens, `systemctl cat cyphonicd@alpha` shows the
#     unit, `cyphonic --help` works;
#   - `systemctl start cyphonic-cloud` runs the cloud under its sandbox,
#     `systemctl start cyphonicd@alpha` a node from /etc/cyphonic/alpha.conf
#     under its own, and the node registers (TUN, capabilities, the state
#     and runtime directories all work inside the sandbox);
#   - the web console answers over HTTPS and logs in;
#   - both stop cleanly.
# Prints one line a check; exits 1 at the first failure, with the unit's
# journal.  Needs root.
set -euo pipefail
ROOT=$(cd "${1:?usage: systemd_boot.sh ROOT}" && pwd)
[[ -x $ROOT/lib/systemd/systemd && -x $ROOT/usr/sbin/cyphonic-cloud ]] ||
	{ echo "systemd_boot: $ROOT has no systemd or no cyphonic package" >&2; exit 1; }

boot=$(mktemp)
cat >"$boot" <<EOF
mount --make-rprivate /
mount --bind "$ROOT" "$ROOT"
mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --rbind /sys/fs/cgroup "$ROOT/sys/fs/cgroup"
mount -t tmpfs tmpfs "$ROOT/run"
mount -t tmpfs tmpfs "$ROOT/tmp"
mount --rbind /dev "$ROOT/dev"
exec chroot "$ROOT" /lib/systemd/systemd --system --log-target=null --log-level=warning
EOF
unshare --pid --fork --mount --net --uts --ipc sh "$boot" </dev/null >/dev/null 2>&1 &
ushare=$!
sd=""
cleanup()
{
	[[ -z $sd ]] || kill -KILL "$sd" 2>/dev/null || true
	kill "$ushare" 2>/dev/null || true
	wait "$ushare" 2>/dev/null || true
	rm -f "$boot"
}
trap cleanup EXIT

# systemd: the chroot's PID 1, a child of unshare
for _ in $(seq 100); do
	sd=$(pgrep -P "$ushare" -x systemd || true)
	[[ -n $sd ]] && break
	sleep 0.1
done
[[ -n $sd ]] || { echo "systemd_boot: systemd did not start" >&2; exit 1; }
sdx() { nsenter -t "$sd" -m -p -n -u chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
check() { echo "systemd_boot: $*"; }
die()
{
	echo "systemd_boot: FAIL: $*" >&2
	sdx journalctl --no-pager -n 40 -u cyphonic-cloud -u cyphonicd@alpha >&2 || true
	exit 1
}
# until: CMD... succeeds within 20 s
until_ok()
{
	for _ in $(seq 200); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
# it answers (boot jobs may still wait: a serial getty for a device no
# udev will announce here; the units below need none of them)
until_ok sdx systemctl show -P Version || die "systemd does not answer"
check "systemd $(sdx systemctl --version | head -n1 | cut -d' ' -f2) is PID 1 in its namespaces"

sdx man -P cat cyphonicd 2>/dev/null | grep -q '^NAME' || die "man cyphonicd"
sdx systemctl cat cyphonicd@alpha | grep -q '^ExecStart=/usr/sbin/cyphonicd' ||
	die "systemctl cat cyphonicd@alpha: $(sdx systemctl cat cyphonicd@alpha 2>&1 | head -n3)"
sdx cyphonic --help >/dev/null || die "cyphonic --help"
check "man cyphonicd opens, systemctl cat cyphonicd@alpha shows the unit, cyphonic --help works"

D=/var/lib/cyphonic/cloud
sdx cyphonic init --dir "$D" --domain example.test --cloud 127.0.0.1 >/dev/null || die "cyphonic init"
printf 'correct horse 9\n' | sdx cyphonic admin add root --dir "$D" >/dev/null || die "admin add"
sdx systemctl start cyphonic-cloud || die "systemctl start cyphonic-cloud"
until_ok sdx cyphonic stats --dir "$D" || die "the cloud's control socket never answered"
[[ $(sdx systemctl is-active cyphonic-cloud) == active ]] || die "cyphonic-cloud not active"
check "cyphonic-cloud active under its unit"

sdx cyphonic node add alpha --dir "$D" >/dev/null || die "node add"
sdx install -m 600 "$D/nodes/alpha.conf" /etc/cyphonic/alpha.conf
sdx systemctl start cyphonicd@alpha || die "systemctl start cyphonicd@alpha"
registered() { sdx cyphonic status -c /etc/cyphonic/alpha.conf --json | grep -q '"registered":true'; }
until_ok registered || die "alpha never registered: $(sdx cyphonic status -c /etc/cyphonic/alpha.conf 2>&1 | head -n5)"
check "cyphonicd@alpha active under its unit and registered"

C=(curl -sS --max-time 10 --cacert "$D/console-ca.pem" -o /dev/null -w '%{http_code}')
code=$(sdx "${C[@]}" https://127.0.0.1:7447/api/nodes) || die "console: curl failed"
[[ $code == 401 ]] || die "console: /api/nodes without a session gave $code"
code=$(sdx "${C[@]}" -d name=root --data-urlencode 'password=correct horse 9' \
	https://127.0.0.1:7447/api/login) || die "console: login failed"
[[ $code == 200 ]] || die "console: login gave $code"
check "the console answers over HTTPS (401 without a session, 200 for the login)"

sdx systemctl stop cyphonicd@alpha cyphonic-cloud || die "systemctl stop"
for u in cyphonicd@alpha cyphonic-cloud; do
	r=$(sdx systemctl show -P Result "$u")
	[[ $r == success ]] || die "$u stopped with Result=$r"
done
check "both stopped cleanly"
