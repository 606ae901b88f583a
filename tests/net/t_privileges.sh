#!/bin/bash
# Least privilege (docs/security.md, "Privileges"): the cloud and node a
# run as user nobody, a realtime ([node] sched_priority 1), node b as root
# with the default normal scheduling; once started each keeps only the
# capabilities it needs (the cloud none, a node CAP_NET_ADMIN, realtime
# or not) in every set, bounding set included, with no_new_privs, and
# everything still works: login, registration, a name resolved, pings
# both ways through a NAPT, a tunnel set up anew after b restarts.  (The
# adapter runs as nobody in net_adapter_data_user: t_adapter_data.sh with
# CY_USER=nobody.)
#
#   ns cloud 192.0.2.1 (nobody)   ns a 192.0.2.10 (nobody)
#                                 ns r (NAPT) -- ns b 198.51.100.10 (root)
export CY_USER=nobody
source "$(dirname "$0")/lib.sh"
require

topo_basic
cloud_new
node_new a
node_new b
conf_del "$(node_conf b)" node user   # b stays root, with fewer capabilities
conf_set "$(node_conf a)" node sched_priority 1

# proc_field NAME FIELD: a line of /proc/PID/status of daemon NAME.
proc_field() { awk -v f="$2:" '$1 == f {print $2}' "/proc/${DPID[$1]}/status"; }
# expect_privs NAME UID CAPMASK: its uids, permitted, effective and bounding
# sets, and no_new_privs.
expect_privs()
{
	local name=$1 uid=$2 mask=$3 got
	got=$(awk '$1 == "Uid:" {print $2, $3, $4, $5}' "/proc/${DPID[$name]}/status")
	[[ $got == "$uid $uid $uid $uid" ]] || fail "$name: uids $got, not $uid"
	for f in CapPrm CapEff CapBnd; do
		[[ $(proc_field "$name" $f) == "$mask" ]] ||
			fail "$name: $f $(proc_field "$name" $f), not $mask"
	done
	[[ $(proc_field "$name" CapInh) == 0000000000000000 ]] || fail "$name: inheritable caps"
	[[ $(proc_field "$name" NoNewPrivs) == 1 ]] || fail "$name: no_new_privs not set"
	ok "$name: uid $uid, capabilities $mask in every set, no_new_privs"
}

nobody=$(id -u nobody)
start_cloud
start_node a a
start_node b b
wait_registered a
wait_registered b
ok "a (nobody) and b (root) registered with the cloud (nobody)"

# expect_sched NAME POLICY: its scheduling policy as chrt reads it.
expect_sched()
{
	local name=$1 want=$2 got
	got=$(chrt -p "${DPID[$name]}" | sed -n 's/.*scheduling policy: //p')
	[[ $got == "$want" ]] || fail "$name: scheduling policy $got, not $want"
	ok "$name: $got"
}

pretty "what each kept"
expect_privs cloud "$nobody" 0000000000000000
expect_privs a "$nobody" 0000000000001000
expect_privs b 0 0000000000001000
expect_sched a "SCHED_FIFO|SCHED_RESET_ON_FORK"   # a realtime, not inherited
expect_sched b SCHED_OTHER
expect_sched cloud SCHED_OTHER
[[ $(status_get a .sched.policy) == realtime && $(status_get a .sched.priority) == 1 &&
   $(status_get b .sched.policy) == normal ]] ||
	fail "status: a $(status_get a .sched.policy), b $(status_get b .sched.policy)"
ok "status says a runs realtime, b normal"

pretty "everything still works"
[[ $(resolve a b A) == "$(vip b 4)" ]] || fail "a: $(fqdn b) does not resolve to b's VIP"
ok "a resolves $(fqdn b) to $(vip b 4)"
vping a "$(vip b 4)" 5 || fail "a cannot ping b"
vping b "$(vip a 4)" 5 || fail "b cannot ping a"
ok "a and b ping each other"
stop_daemon b
start_node b b
wait_registered b
# a holds the old tunnel: as in t_peer_restart.sh, it finds out and sets a
# new one up.
t0=$(now_ms)
n a ping -n -q -c 1 -W 30 -w 30 "$(vip b 4)" >/dev/null || fail "a: no reply from the restarted b"
vping b "$(vip a 4)" 5 || fail "the restarted b cannot ping a"
ok "b restarted: first reply after $(($(now_ms) - t0)) ms, then both ways"
cy revoke b --dir "$CLOUD_DIR" --reason "test" >/dev/null
wait_for 5 eval '! vping a "$(vip b 4)" 1'
ok "the cloud (nobody) still writes its store: b revoked, its tunnel torn down"
expect_exit b

stop_all
ok "all daemons stopped cleanly"
