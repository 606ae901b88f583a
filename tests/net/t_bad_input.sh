#!/bin/bash
# Bad input changes nothing: random and truncated datagrams at the NMS, TLS
# clients with no or a foreign certificate, a wrong password, an oversized
# and a malformed frame at the AS, plain garbage at the AS port.  Each is
# refused or dropped and counted; registered nodes stay registered, new
# nodes still register, and the cloud stops with no sanitizer report.
#
#                          inet: bridge br0 (the "Internet")
#   +-----------+-----------+-----------+-----------+-----------+-----------+
#   |           |           |           |           |           |           |
# ns cloud    ns a        ns r (NAPT) ns x        ns p        ns c        ns d
# 192.0.2.1   192.0.2.10  192.0.2.20  192.0.2.66  192.0.2.30  192.0.2.40  192.0.2.50
# 2001:db8::1 2001:db8::10    |       2001:db8::66
# cloud       node a          |       attacker:   node p:     new node c  new node d
#                          ns b       nc, dd,     wrong       (cert)      (password)
#                          198.51.100.10 openssl  password
#                          node b
source "$(dirname "$0")/lib.sh"
require

topo_basic
inet_host x 192.0.2.66/24 2001:db8::66/64
inet_host p 192.0.2.30/24 -
inet_host c 192.0.2.40/24 -
inet_host d 192.0.2.50/24 -
cloud_new
node_new a
node_new b
start_cloud
start_node a a
start_node b b
wait_registered a
wait_registered b
obs_a=$(status_get a .observed)
obs_b=$(status_get b .observed)
ok "a and b registered"

S0=$(stats)
s0() { jq -r "$1" <<<"$S0"; }
W=$RUN_DIR/work
mkdir -p "$W"

pretty "NMS: random datagrams"
nrand=20
for ((i = 1; i <= nrand; i++)); do
	head -c $((RANDOM % 1400 + 1)) /dev/urandom >"$W/rand"
	if ((i % 2)); then udp_file x 192.0.2.1 7444 "$W/rand"; else udp_file x 2001:db8::1 7444 "$W/rand"; fi
done

# The random ones are counted (almost all malformed) before the crafted
# ones go out, so each crafted batch is checked on its own counters.
chk()
{
	local path=$1 min=$2 base=${3:-$S0} now
	now=$(stat_get "$path") || return 1
	(( now - $(jq -r "$path" <<<"$base") >= min ))
}
wait_for 10 chk .nms.rx "$nrand"
S_RAND=$(stats)

pretty "NMS: truncated and bad-header datagrams"
# A sealed envelope's 20-byte header: ver 1, type 0x80, dir 0, 0, key id, counter.
hdr='\x01\x80\x00\x00\x11\x22\x33\x44\x55\x66\x77\x88\x00\x00\x00\x00\x00\x00\x00\x01'
ntrunc=0
{ printf "$hdr"; printf '\xAA%.0s' {1..16}; } >"$W/full"   # 36 bytes: header + a tag, no message
for len in 1 2 3 4 8 12 19 20 21 35; do
	head -c $len "$W/full" >"$W/trunc"
	udp_file x 192.0.2.1 7444 "$W/trunc"; ntrunc=$((ntrunc + 1))
done
# Version 2; direction cloud->node; a plain (unsealed) Registration Request;
# a Keepalive header announcing more bytes than sent.
printf '\x02\x80\x00\x00\x11\x22\x33\x44\x55\x66\x77\x88\x00\x00\x00\x00\x00\x00\x00\x01%040d' 0 >"$W/b1"
printf '\x01\x80\x01\x00\x11\x22\x33\x44\x55\x66\x77\x88\x00\x00\x00\x00\x00\x00\x00\x01%040d' 0 >"$W/b2"
printf '\x01\x10\x00\x07\x00\x11\x00\x01\x01' >"$W/b3"
printf '\x01\x12\xff\xf0\x00\x0f\x00\x08' >"$W/b4"
for f in b1 b2 b3 b4; do udp_file x 192.0.2.1 7444 "$W/$f"; ntrunc=$((ntrunc + 1)); done
# Each is malformed: counted so, exactly, and none reaches the key lookup
# (b1 and b2 name key 0x1122..., which nobody has).
wait_for 10 chk .nms.rx "$ntrunc" "$S_RAND"
S_CRAFT=$(stats)
got=$(($(jq .nms.malformed <<<"$S_CRAFT") - $(jq .nms.malformed <<<"$S_RAND")))
((got == ntrunc)) || fail "$ntrunc crafted datagrams, $got counted malformed"
got=$(($(jq .nms.unknown_key <<<"$S_CRAFT") - $(jq .nms.unknown_key <<<"$S_RAND")))
((got == 0)) || fail "$got crafted (malformed) datagrams reached the key lookup"
ok "$ntrunc crafted datagrams: $ntrunc malformed, none looked up"
# Well-formed envelope, key id nobody has.
printf "$hdr" >"$W/unk"; head -c 48 /dev/urandom >>"$W/unk"
udp_file x 192.0.2.1 7444 "$W/unk"
wait_for 10 chk .nms.unknown_key 1 "$S_CRAFT"
got=$(($(stat_get .nms.malformed) - $(jq .nms.malformed <<<"$S_CRAFT")))
((got == 0)) || fail "the unknown-key datagram was counted malformed"
ok "a well-formed envelope under an unknown key: unknown_key, not malformed"
nsent=$((nrand + ntrunc + 1))
say "$nsent datagrams sent ($ntrunc malformed by construction)"

CA=$(awk -F' *= *' '$1 == "ca_cert" { print $2 }' "$CLOUD_DIR/cloud.conf")
[[ -f $CA ]] || fail "cannot find the CA certificate (ca_cert) in cloud.conf"

pretty "AS: TLS, no certificate, Login Request without password"
printf '\x01\x01\x00\x05\x00\x03\x00\x01a' >"$W/login-nopw"
tls_send x 192.0.2.1:7443 "$W/login-nopw" "$W/r1" -CAfile "$CA" -verify_return_error
h=$(hex "$W/r1")
say "response: ${h:0:64}"
[[ $h == 0102* ]] || fail "no Login Response to a login without password (got '${h:0:40}', $(tail -n2 "$W/r1.err"))"
[[ $h =~ 00010001(0[1-9]) ]] || fail "Login Response without a failing RESULT: $h"
[[ $h != *00070020* ]] || fail "a KEY attribute came back"
ok "refused with RESULT ${BASH_REMATCH[1]}"

pretty "AS: TLS with a certificate from a foreign CA, a's name and serial"
# The forgery carries a's own serial and name, so only the chain check can
# refuse it: were it skipped, the AS would find node a by that serial.
serial=$(awk '/^cert *=/ { on = 1; sub(/^cert *= */, ""); print; next } /^[^ \t]/ { on = 0 }
	on { sub(/^[ \t]+/, ""); print }' "$(node_conf a)" | openssl x509 -noout -serial | cut -d= -f2)
[[ -n $serial ]] || fail "cannot read a's certificate serial from its config"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=Foreign-CA -keyout "$W/fca.key" -out "$W/fca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=a.$CY_DOMAIN" -keyout "$W/fl.key" -out "$W/fl.csr" 2>/dev/null
openssl x509 -req -in "$W/fl.csr" -CA "$W/fca.pem" -CAkey "$W/fca.key" -set_serial "0x$serial" \
	-days 1 -out "$W/fl.pem" 2>/dev/null
printf '\x01\x01\x00\x00' >"$W/login-cert"
tls0=$(stat_get .as.tls_fail)
tls_send x 192.0.2.1:7443 "$W/login-cert" "$W/r2" -CAfile "$CA" -cert "$W/fl.pem" -key "$W/fl.key"
h=$(hex "$W/r2")
[[ -z $h ]] || fail "a Login Response came back to a foreign certificate: ${h:0:64}"
tls_failed_once() { (($(stat_get .as.tls_fail) == tls0 + 1)); }
wait_for 5 tls_failed_once
ok "foreign certificate with a's serial ($serial): handshake refused, nothing answered"

pretty "AS: plain garbage on the TLS port"
head -c 300 /dev/urandom >"$W/garbage"
n x timeout 3 nc -N -w2 192.0.2.1 7443 <"$W/garbage" >/dev/null 2>&1 || true

pretty "AS: oversized frame (length 65535) and a malformed frame"
{ printf '\x01\x01\xff\xff'; head -c 512 /dev/zero; } >"$W/big"
tls_send x 192.0.2.1:7443 "$W/big" "$W/r3" -CAfile "$CA"
h=$(hex "$W/r3")
[[ $h != 0102*0001000100* ]] || fail "oversized frame answered with success: $h"
printf '\x01\x01\x00\x05\x00\x03\x00\x09a' >"$W/bad"
tls_send x 192.0.2.1:7443 "$W/bad" "$W/r4" -CAfile "$CA"
h=$(hex "$W/r4")
[[ $h != 0102*0001000100* ]] || fail "malformed frame answered with success: $h"

pretty "AS: wrong password (node p, enrolled with --password)"
node_new p --password 'correct horse battery staple'
grep -q '^password' "$(node_conf p)" || fail "node add --password wrote no password to p.conf"
! grep -q '^cert' "$(node_conf p)" || fail "node add --password wrote a certificate to p.conf"
conf_set "$(node_conf p)" credentials password 'wrong horse'
start_node p p
expect_exit p
wait_for 20 log_grep p 'authentication failed'
is_unregistered p || fail "p registered with a wrong password"
ok "p's log: $(log_first p 'authentication failed')"

pretty "counters went up for each category"
wait_for 10 chk .nms.rx "$nsent"
wait_for 10 chk .nms.malformed "$ntrunc"
wait_for 10 chk .nms.unknown_key 1
wait_for 10 eval '(( $(stats | jq "[.nms.malformed, .nms.unknown_key, .nms.auth_fail, .nms.expired_key] | add") - $(jq "[.nms.malformed, .nms.unknown_key, .nms.auth_fail, .nms.expired_key] | add" <<<"$S0") >= nsent ))'
wait_for 10 chk .as.login_refused 2
wait_for 10 chk .as.tls_fail 2
wait_for 10 chk .as.oversized 1
wait_for 10 chk .as.malformed 1
S1=$(stats)
for k in nms.rx nms.malformed nms.unknown_key nms.auth_fail as.tls_fail as.login_refused as.oversized as.malformed; do
	say "$(printf '%-18s %6s -> %s' "$k" "$(s0 ".$k")" "$(jq -r ".$k" <<<"$S1")")"
done
ok "all counted"

pretty "the registered nodes are unaffected"
k0=$(stat_get .nms.keepalives)
wait_for 15 eval '(( $(stat_get .nms.keepalives) >= k0 + 4 ))'
is_registered a || fail "a lost its registration"
is_registered b || fail "b lost its registration"
[[ $(status_get a .observed) == "$obs_a" ]] || fail "a's observed endpoint changed"
[[ $(status_get b .observed) == "$obs_b" ]] || fail "b's observed endpoint changed"
ok "a and b still registered at the same endpoints"

pretty "new nodes still register (c: certificate, d: password)"
node_new c
node_new d --password 'd-secret-pw'
start_node c c
start_node d d
wait_registered c; ok "c registered after ${REG_MS} ms"
wait_registered d; ok "d registered after ${REG_MS} ms (password login)"

stop_all
ok "cloud and nodes stopped cleanly, no sanitizer report"
