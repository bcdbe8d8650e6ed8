#!/usr/bin/env bash
# OPTIONS load against `convene up` and against Kamailio (bench/kamailio-options.cfg, stateless
# 200), in the same run, at increasing rates, with SIPp on the same machine (issue 4).
# For each server and rate: calls sent, failures, server CPU seconds (utime+stime of all its
# processes, from /proc) and CPU seconds per 10,000 requests; then the highest rate with
# <= 0.1 % failures and the CPU ratio Convene/Kamailio at each rate.
#
# Usage: bench/options.sh [SECONDS_PER_RATE] [RATES...]      (defaults: 5 s; 500 1000 2000 4000)
# Needs: sip-tester (sipp), kamailio (apt-get install -y sip-tester kamailio).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}; shift || true
rates=("$@"); [ ${#rates[@]} -gt 0 ] || rates=(500 1000 2000 4000)
command -v sipp >/dev/null || { echo "needs sipp: apt-get install -y sip-tester" >&2; exit 2; }
command -v kamailio >/dev/null || { echo "needs kamailio: apt-get install -y kamailio" >&2; exit 2; }
cargo build --release --bin convene -q
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

CV_PORT=25060; KM_PORT=25070
target/release/convene up --data "$work/data" --listen "udp:127.0.0.1:$CV_PORT" >"$work/convene.out" 2>"$work/convene.err" &
cv_pid=$!; pids+=("$cv_pid")
kamailio -f bench/kamailio-options.cfg -l "udp:127.0.0.1:$KM_PORT" -P "$work/kam.pid" -DD -E -m 256 -M 16 >"$work/kam.out" 2>&1 &
km_pid=$!; pids+=("$km_pid")
sleep 2
kill -0 "$cv_pid" && kill -0 "$km_pid" || { echo "a server did not start:"; cat "$work"/*.err "$work"/kam.out; exit 1; }

# CPU ticks of a process and all its descendants (Kamailio forks its children).
ticks() {
    local total=0 p
    for p in $(pgrep -g "$(ps -o pgid= "$1" | tr -d ' ')" 2>/dev/null || echo "$1"); do
        [ -r "/proc/$p/stat" ] || continue
        total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)

run() { # name port rate -> "calls failed cpu_s"
    local name=$1 port=$2 rate=$3 n=$(( $3 * secs ))
    local t0 t1 out failed ok
    t0=$(ticks "$4")
    out=$(cd "$work" && sipp -sf "$OLDPWD/bench/options-ping.xml" -t u1 -r "$rate" -m "$n" -l 0 \
        -timeout $((secs * 3))s -nostdin -i 127.0.0.1 "127.0.0.1:$port" 2>&1 || true)
    t1=$(ticks "$4")
    ok=$(echo "$out" | awk -F'|' '/Successful call/ {gsub(/ /,"",$3); v=$3} END {print v+0}')
    failed=$((n - ok))
    echo "$n $failed $(echo "scale=3; ($t1 - $t0) / $hz" | bc)"
}

printf '%-9s %6s %8s %7s %9s %16s\n' server rate sent failed cpu_s "cpu_s/10k req"
declare -A best cpu10k
for rate in "${rates[@]}"; do
    for s in convene kamailio; do
        if [ $s = convene ]; then r=$(run convene $CV_PORT "$rate" "$cv_pid"); else r=$(run kamailio $KM_PORT "$rate" "$km_pid"); fi
        read -r sent failed cpu <<<"$r"
        per=$(echo "scale=3; $cpu * 10000 / $sent" | bc)
        printf '%-9s %6s %8s %7s %9s %16s\n' "$s" "$rate" "$sent" "$failed" "$cpu" "$per"
        cpu10k[$s,$rate]=$per
        if [ $((failed * 1000)) -le "$sent" ]; then best[$s]=$rate; fi
    done
    printf '%-9s %6s %42s\n' ratio "$rate" "convene/kamailio CPU per request = $(echo "scale=2; ${cpu10k[convene,$rate]} / ${cpu10k[kamailio,$rate]}" | bc 2>/dev/null || echo n/a)"
done
echo "highest rate with <= 0.1% failures: convene ${best[convene]:-none}/s, kamailio ${best[kamailio]:-none}/s"
