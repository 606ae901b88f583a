#!/bin/bash
# scripts/fresh.sh: the two README commands on a fresh Debian 12 root.
#
# Builds a minimal Debian 12 root with mmdebstrap (variant minbase, plus
# only git and make), clones this repository's committed HEAD into it, and
# runs `make demo` and then `make check` inside it as root with CI=true, so
# that a package installed on this machine by hand, or a test that skips,
# cannot make the run look green.  Nothing is cached between runs: every
# package the project needs is installed by its own scripts/deps.sh.
# Then `make deb` there, and the package installed with apt into a second
# minimal root (with systemd, man-db and curl), where the installed
# programs make a cloud and a node, and tests/pkg/systemd_boot.sh boots
# systemd over it and runs both daemons from their units.
#
# The root is a mount point of its own (bind-mounted onto itself) with
# /proc, /sys, /dev and a private /run, so `ip netns` works inside it.
# Everything is unmounted and deleted on any exit.
#
# Ends with `make check`'s own closing line, "N passed, N failed".
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
SUITE=${FRESH_SUITE:-bookworm}
MIRROR=${FRESH_MIRROR:-http://deb.debian.org/debian}
SECURITY=${FRESH_SECURITY:-http://deb.debian.org/debian-security}

[[ $(id -u) == 0 ]] || { echo "fresh: needs root (mmdebstrap, chroot, network namespaces)" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "fresh: mmdebstrap missing (make deps)" >&2; exit 1; }

rev=$(git -C "$SRC" rev-parse HEAD)
if [[ -n $(git -C "$SRC" status --porcelain --untracked-files=no) ]]; then
	echo "fresh: note: uncommitted changes are not part of this run (it uses HEAD $rev)"
fi

ROOT=$(mktemp -d /var/tmp/cyphonic-fresh.XXXXXX)
ROOT2=
mounted=()
cleanup()
{
	local rc=$? m i
	set +e
	# Processes left inside the root (none when the tests cleaned up).
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null)
		[[ $r == "$ROOT"* || ( -n $ROOT2 && $r == "$ROOT2"* ) ]] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		m=${mounted[i]}
		# private first: nothing unmounted below can propagate to the host
		mount --make-rprivate "$m" 2>/dev/null
		umount -R "$m" 2>/dev/null || umount -lR "$m"
	done
	rm -rf --one-file-system "$ROOT"
	[[ -z $ROOT2 ]] || rm -rf --one-file-system "$ROOT2"
	exit "$rc"
}
trap cleanup EXIT INT TERM

t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0)) s"; }

echo "==== fresh: a minimal Debian 12 ($SUITE, minbase + git, make) in $ROOT"
mmdebstrap --quiet --variant=minbase --include=git,make "$SUITE" "$ROOT" \
	"deb $MIRROR $SUITE main" \
	"deb $MIRROR $SUITE-updates main" \
	"deb $SECURITY $SUITE-security main"
echo "==== fresh: root ready after $(elapsed)"

mount --bind "$ROOT" "$ROOT"
mounted+=("$ROOT")
mount --make-private "$ROOT"
mount -t proc proc "$ROOT/proc"
mount -t sysfs sysfs "$ROOT/sys"
# In one step: a recursive bind that is a slave from the start, so no
# unmount here can ever spread back to the host's /dev/pts or /dev/shm.
mount --rbind --make-rslave /dev "$ROOT/dev"
mount -t tmpfs -o mode=0755 tmpfs "$ROOT/run"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"

git clone -q --no-local "$SRC" "$ROOT/root/cyphonic"
git -C "$ROOT/root/cyphonic" checkout -q "$rev"

# inroot CMD: run CMD in the fresh root as a new login would, CI=true.
inroot()
{
	chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb CI=true LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/sh -c "cd /root/cyphonic && $1"
}

echo "==== fresh: make demo"
inroot 'make demo'
echo "==== fresh: make demo done after $(elapsed)"
echo "==== fresh: make check"
set +e
inroot 'make check' | tee "$ROOT/check.log"
rc=${PIPESTATUS[0]}
set -e
echo "==== fresh: make check done after $(elapsed) (status $rc)"

# The package: made in the first root, installed into a second minimal
# one by apt (which must find every library it depends on), where the
# installed programs make a cloud and enrol a node.
pkg_rc=0
if ((rc == 0)); then
	# made here, so that cleanup removes it whatever stops the run
	ROOT2=$(mktemp -d /var/tmp/cyphonic-fresh2.XXXXXX)
	set +e
	(
		set -e
		echo "==== fresh: make deb"
		inroot 'make deb'
		# what a Debian 12 host has and the checks use: systemd as PID 1,
		# man, curl for the console
		mmdebstrap --quiet --variant=minbase --include=systemd,man-db,curl "$SUITE" "$ROOT2" \
			"deb $MIRROR $SUITE main" \
			"deb $MIRROR $SUITE-updates main" \
			"deb $SECURITY $SUITE-security main"
		cp -L /etc/resolv.conf "$ROOT2/etc/resolv.conf"
		cp "$ROOT"/root/cyphonic/cyphonic_*.deb "$ROOT2/root/"
		in2() {
			chroot "$ROOT2" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
				PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
				/bin/sh -ec "$1"
		}
		in2 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends /root/cyphonic_*.deb >/dev/null'
		in2 'cyphonic --help >/dev/null && cyphonicd -K | grep -qx "adapter lan" &&
			cyphonic-cloud -K | grep -qx "cloud domain" &&
			test -f /usr/lib/systemd/system/cyphonicd@.service &&
			test -f /usr/lib/systemd/system/cyphonic-cloud.service &&
			zcat /usr/share/man/man8/cyphonicd.8.gz | grep -q "^.SH NAME" &&
			zcat /usr/share/man/man5/cyphonic.conf.5.gz | grep -q "^.SH NODE.CONF" &&
			test "$(stat -c %a /etc/cyphonic)" = 700 &&
			cyphonic init --dir /var/lib/cyphonic/cloud --domain example.test \
				--cloud 192.0.2.1 >/dev/null &&
			cyphonic node add alpha --dir /var/lib/cyphonic/cloud >/dev/null &&
			test -s /var/lib/cyphonic/cloud/nodes/alpha.conf'
		echo "==== fresh: $(cd "$ROOT/root/cyphonic" && ls cyphonic_*.deb) installed by apt into a second fresh root; cyphonic init and node add from it: ok"
		in2 'rm -rf /var/lib/cyphonic/cloud'
		"$SRC/tests/pkg/systemd_boot.sh" "$ROOT2"
	)
	pkg_rc=$?
	set -e
	echo "==== fresh: package done after $(elapsed) (status $pkg_rc)"
fi
# The closing line again, last, for whoever reads only the end.
tail -n 1 "$ROOT/check.log"
((rc != 0)) || rc=$pkg_rc
exit "$rc"
