#!/usr/bin/env bash
# Authenticated REGISTERs per second: Kamailio (bench/kamailio-proxy.cfg) and then `convene up`,
# one after the other, in one run, with SIPp on the same machine (127.0.0.1 only).
# Each registration is REGISTER -> 401 -> REGISTER with Digest credentials -> 200
# (bench/register-auth.xml) for a user that has not registered before in this run
# (u000001, u000002, ...; password "<name>-dev", realm example.test).
# The rate steps up; a server stops at the first rate with more than 0.1 % failures.
# For each server and rate: registrations sent, failed, server CPU seconds (utime+stime of the
# server and its children, from /proc) and CPU seconds per 10,000 registrations; then the
# highest rate with <= 0.1 % failures and the ratios convene/kamailio.
#
# Usage: bench/register.sh [SECONDS_PER_RATE] [RATES...]   (defaults: 5 s; 1000 2000 4000 8000 16000)
# Convene is measured if CONVENE_BIN names its binary or target/release/convene exists; its
# topology (demo + the bench users) is made by bench/gen-users.py.
# Needs: sip-tester (sipp), kamailio, python3.
cd "$(dirname "$0")/.."
. bench/lib.sh
secs=${1:-5}; shift || true
rates=("$@"); [ ${#rates[@]} -gt 0 ] || rates=(1000 2000 4000 8000 16000)
need_tools
total=0; for r in "${rates[@]}"; do total=$(( total + r * secs )); done

# run_rates NAME PID PORT: every rate against one server, fresh users at each rate.
run_rates() {
    local name=$1 pid=$2 port=$3 next=1 rate n dir t0 t1 rc
    for rate in "${rates[@]}"; do
        n=$(( rate * secs ))
        dir="$BENCH_WORK/$name-$rate"; mkdir -p "$dir"
        users_csv "$dir/users.csv" "$next" "$n"; next=$(( next + n ))
        t0=$(cpu_ticks "$pid")
        (cd "$dir" && timeout -s INT -k 5 $(( secs * 3 + 30 )) sipp -sf "$OLDPWD/bench/register-auth.xml" -inf users.csv -auth_uri example.test \
            -r "$rate" -m "$n" -timeout $(( secs * 3 + 10 ))s -recv_timeout 10s -nostdin -trace_err \
            -i 127.0.0.1 "127.0.0.1:$port" >sipp.out 2>&1) || true
        t1=$(cpu_ticks "$pid")
        rc=0; sipp_result "$name" "$rate" "$n" "$dir" "$t0" "$t1" || rc=$?
        [ "$rc" = 0 ] || break
    done
}

echo "authenticated REGISTER (401 challenge, then credentials), $secs s per rate, distinct users"
result_header

both_servers bench/kamailio-proxy.cfg "" "$total" run_rates
result_summary registrations
