#!/usr/bin/env bash
# OPTIONS load against Kamailio (bench/kamailio-options.cfg, stateless 200) and then against
# `convene up`, in the same run, at increasing rates, with SIPp on the same machine (issue 4).
# For each server and rate: requests sent, failures, server CPU seconds (utime+stime of the
# server and its children, from /proc) and CPU seconds per 10,000 requests; then the highest
# rate with <= 0.1 % failures and the CPU ratio Convene/Kamailio at each rate.
#
# Usage: bench/options.sh [SECONDS_PER_RATE] [RATES...]      (defaults: 5 s; 500 1000 2000 4000)
# Convene: $CONVENE_BIN if set, else target/release/convene (built here with cargo first).
# Needs: sip-tester (sipp), kamailio (apt-get install -y sip-tester kamailio).
cd "$(dirname "$0")/.."
. bench/lib.sh
secs=${1:-5}; shift || true
rates=("$@"); [ ${#rates[@]} -gt 0 ] || rates=(500 1000 2000 4000)
need_tools
[ -n "${CONVENE_BIN:-}" ] || cargo build --release --bin convene -q

# run_rates NAME PID PORT: every rate against one server.
run_rates() {
    local name=$1 pid=$2 port=$3 rate n dir t0 t1 rc
    for rate in "${rates[@]}"; do
        n=$(( rate * secs ))
        dir="$BENCH_WORK/$name-$rate"; mkdir -p "$dir"
        t0=$(cpu_ticks "$pid")
        (cd "$dir" && timeout -s INT -k 5 $(( secs * 3 + 30 )) sipp -sf "$OLDPWD/bench/options-ping.xml" \
            -t u1 -r "$rate" -m "$n" -l 0 -timeout $(( secs * 3 ))s -nostdin -trace_err \
            -i 127.0.0.1 "127.0.0.1:$port" >sipp.out 2>&1) || true
        t1=$(cpu_ticks "$pid")
        rc=0; sipp_result "$name" "$rate" "$n" "$dir" "$t0" "$t1" || rc=$?
    done
}

echo "OPTIONS answered 200, $secs s per rate"
result_header

both_servers bench/kamailio-options.cfg "" "" run_rates
result_summary requests
