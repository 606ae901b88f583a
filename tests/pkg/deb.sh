#!/bin/bash
# deb.sh BUILD: `cpack -G DEB` in BUILD makes cyphonic_VERSION_ARCH.deb
# with the programs, man pages and units at their Debian places, a
# postinst that makes /etc/cyphonic, and Depends naming the libraries the
# programs load (dpkg-shlibdeps) and nftables, and units that start the
# programs in /usr/sbin.  (`make deb` does the same from the release
# build; `make fresh` installs it into a fresh root.)
set -euo pipefail
BUILD=$(cd "${1:?usage: deb.sh BUILD}" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$BUILD" && cpack -G DEB -B "$out" >/dev/null) || { echo "deb: cpack failed" >&2; exit 1; }
deb=$(ls "$out"/cyphonic_*.deb 2>/dev/null | head -n1)
[[ -n $deb ]] || { echo "deb: no cyphonic_*.deb in $out: $(ls "$out")" >&2; exit 1; }
fails=0
files=$(dpkg-deb -c "$deb" | awk '{ print $NF }')
for f in ./usr/bin/cyphonic ./usr/sbin/cyphonicd ./usr/sbin/cyphonic-cloud \
	./usr/share/man/man8/cyphonic.8.gz ./usr/share/man/man8/cyphonicd.8.gz \
	./usr/share/man/man8/cyphonic-cloud.8.gz ./usr/share/man/man5/cyphonic.conf.5.gz \
	./usr/lib/systemd/system/cyphonicd@.service ./usr/lib/systemd/system/cyphonic-cloud.service; do
	grep -qx "$f" <<<"$files" || { echo "deb: $(basename "$deb") lacks $f" >&2; fails=$((fails + 1)); }
done
dep=$(dpkg-deb -f "$deb" Depends)
for d in libssl3 libevent nftables libsqlite3 libpq5 libmnl0; do
	[[ $dep == *"$d"* ]] || { echo "deb: Depends lacks $d: $dep" >&2; fails=$((fails + 1)); }
done
dpkg-deb -x "$deb" "$out/root"
for u in cyphonicd@.service cyphonic-cloud.service; do
	grep -q '^ExecStart=/usr/sbin/' "$out/root/usr/lib/systemd/system/$u" ||
		{ echo "deb: $u does not start /usr/sbin/...: $(grep ExecStart "$out/root/usr/lib/systemd/system/$u")" >&2; fails=$((fails + 1)); }
done
dpkg-deb -e "$deb" "$out/ctl"
grep -q 'install -d -m 0700 /etc/cyphonic' "$out/ctl/postinst" ||
	{ echo "deb: no postinst making /etc/cyphonic" >&2; fails=$((fails + 1)); }
((fails == 0)) || exit 1
echo "deb: $(basename "$deb"), $(wc -l <<<"$files") entries; Depends: $dep"
