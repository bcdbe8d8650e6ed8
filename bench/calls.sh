#!/usr/bin/env bash
# Calls per second through the proxy: Kamailio (bench/kamailio-proxy.cfg) and then `convene up`,
# one after the other, in one run, with SIPp on the same machine (127.0.0.1 only).
# A SIPp UAS registers u000002 and a SIPp UAC registers u000001 (Digest, bench/register-auth.xml),
# then the UAC calls u000002 (bench/uac-call.xml): INVITE -> 407 -> ACK, INVITE with
# credentials -> 100/180/200 -> ACK -> BYE -> 200, record-routed through the proxy to the UAS
# (bench/uas-call.xml). The rate steps up; a server stops at the first rate with more than
# 0.1 % failed calls. For each server and rate: calls, failed, server CPU seconds (utime+stime of
# the server and its children, from /proc) and CPU seconds per 10,000 calls; then the highest
# rate with <= 0.1 % failures and the ratios convene/kamailio.
#
# Usage: bench/calls.sh [SECONDS_PER_RATE] [RATES...]     (defaults: 10 s; 200 400 800 1600 2400 3200)
# Convene is measured if CONVENE_BIN names its binary or target/release/convene exists; its
# topology (demo + the bench users) is made by bench/gen-users.py.
# Needs: sip-tester (sipp), kamailio, python3.
cd "$(dirname "$0")/.."
. bench/lib.sh
secs=${1:-10}; shift || true
rates=("$@"); [ ${#rates[@]} -gt 0 ] || rates=(200 400 800 1600 2400 3200)
need_tools
CALLER=u000001 CALLEE=u000002

# register NAME PORT USER LOCAL_PORT: one authenticated REGISTER of USER with Contact at
# 127.0.0.1:LOCAL_PORT; prints why and returns 1 if it is not answered 200.
register() {
    local name=$1 port=$2 user=$3 lport=$4 dir="$BENCH_WORK/$1-register-$3"
    mkdir -p "$dir"
    awk -v u="$user" 'BEGIN {print "SEQUENTIAL"; printf "%s;[authentication username=%s password=%s-dev]\n", u, u, u}' >"$dir/users.csv"
    (cd "$dir" && timeout -s INT -k 5 $(( secs * 3 + 30 )) sipp -sf "$OLDPWD/bench/register-auth.xml" -inf users.csv -auth_uri example.test \
        -m 1 -timeout 10s -nostdin -trace_err -i 127.0.0.1 -p "$lport" "127.0.0.1:$port" >sipp.out 2>&1) || true
    if [ "$(sipp_count "$dir/sipp.out" "Successful call")" != 1 ]; then
        echo "  $name: the REGISTER of $user failed; SIPp errors:"; sipp_errors "$dir"
        R_STOP[$name]="the REGISTER of $user failed"
        return 1
    fi
}

# run_rates NAME PID PORT: register both ends, start the UAS, then every rate.
run_rates() {
    local name=$1 pid=$2 port=$3 uac uas uas_pid rate n dir t0 t1 rc
    uac=$(free_udp_port); uas=$(free_udp_port)
    register "$name" "$port" "$CALLEE" "$uas" || return 0
    register "$name" "$port" "$CALLER" "$uac" || return 0
    mkdir -p "$BENCH_WORK/$name-uas"
    (cd "$BENCH_WORK/$name-uas" && exec sipp -sf "$OLDPWD/bench/uas-call.xml" -nostdin -nd -trace_err \
        -i 127.0.0.1 -p "$uas" >sipp.out 2>&1) &
    uas_pid=$!; bench_track "$uas_pid"
    wait_udp_listen "$uas" 5 || { echo "  $name: the SIPp UAS did not start"; R_STOP[$name]="no UAS"; return 0; }
    for rate in "${rates[@]}"; do
        n=$(( rate * secs ))
        dir="$BENCH_WORK/$name-$rate"; mkdir -p "$dir"
        printf 'SEQUENTIAL\n%s;[authentication username=%s password=%s-dev];%s\n' \
            "$CALLER" "$CALLER" "$CALLER" "$CALLEE" >"$dir/calls.csv"
        t0=$(cpu_ticks "$pid")
        (cd "$dir" && timeout -s INT -k 5 $(( secs * 3 + 30 )) sipp -sf "$OLDPWD/bench/uac-call.xml" -inf calls.csv -auth_uri "$CALLEE@example.test" \
            -r "$rate" -m "$n" -timeout $(( secs * 3 + 10 ))s -recv_timeout 10s -nostdin -nd -trace_err \
            -i 127.0.0.1 -p "$uac" "127.0.0.1:$port" >sipp.out 2>&1) || true
        t1=$(cpu_ticks "$pid")
        rc=0; sipp_result "$name" "$rate" "$n" "$dir" "$t0" "$t1" || rc=$?
        [ "$rc" = 0 ] || break
    done
    bench_stop "$uas_pid"
}

echo "calls (INVITE, 407, INVITE with credentials, 180, 200, ACK, BYE) through the proxy, $secs s per rate"
result_header

both_servers bench/kamailio-proxy.cfg "" 2 run_rates
result_summary calls
