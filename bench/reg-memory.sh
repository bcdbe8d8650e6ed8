#!/usr/bin/env bash
# Memory per registration: Kamailio (bench/kamailio-proxy.cfg, usrloc in memory) and then
# `convene up`, one after the other, in one run, with SIPp on the same machine (127.0.0.1 only).
# For each server: a warm-up of WARM registrations (users after the measured ones, so that
# first-use allocations are not counted), then the server's memory, then N authenticated
# registrations of distinct users u000001..uN (bench/register-auth.xml, Expires 3600), then its
# memory again; bytes per registration = growth / registrations answered 200. Memory is the PSS
# (proportional set size, /proc/PID/smaps_rollup) summed over the server's processes: Kamailio
# keeps its location table in shared memory mapped by all its processes, and PSS counts those
# shared pages once; for a single process such as Convene PSS equals RSS less shared libraries.
# Also the server CPU seconds per 10,000 registrations during the run.
#
# Usage: bench/reg-memory.sh     env: N (default 100000) registrations, RATE (default 4000) per
#        second, WARM (default 1000) warm-up registrations, SETTLE (default 40) seconds to wait
#        before the second reading (and at most to let the baseline settle).
# Convene is measured if CONVENE_BIN names its binary or target/release/convene exists; its
# topology (demo + N + WARM bench users) is made by bench/gen-users.py.
# Needs: sip-tester (sipp), kamailio, python3.
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${N:-100000}; RATE=${RATE:-4000}; WARM=${WARM:-1000}; SETTLE=${SETTLE:-40}
need_tools

# register_users NAME PORT FIRST COUNT TAG: COUNT registrations from user FIRST on; prints the
# number answered 200.
register_users() {
    local name=$1 port=$2 first=$3 count=$4 dir="$BENCH_WORK/$1-$5" limit
    limit=$(( count / RATE * 3 + 60 ))
    mkdir -p "$dir"
    users_csv "$dir/users.csv" "$first" "$count"
    (cd "$dir" && timeout -s INT -k 5 "$limit" sipp -sf "$OLDPWD/bench/register-auth.xml" -inf users.csv \
        -auth_uri example.test -r "$RATE" -m "$count" -timeout "$(( limit - 10 ))s" -recv_timeout 10s \
        -nostdin -trace_err -i 127.0.0.1 "127.0.0.1:$port" >sipp.out 2>&1) || true
    sipp_count "$dir/sipp.out" "Successful call"
}

declare -A PER_REG=()

# measure NAME PID PORT: warm up, measure, register N, measure; prints the row.
measure() {
    local name=$1 pid=$2 port=$3 w m0 m1 t0 t1 ok cpu per bytes
    w=$(register_users "$name" "$port" $(( N + 1 )) "$WARM" warmup)
    if [ "$w" -lt "$WARM" ]; then
        echo "  $name: the warm-up failed ($w of $WARM registered); SIPp errors:"; sipp_errors "$BENCH_WORK/$name-warmup"
        [ "$w" -gt 0 ] || return 0
    fi
    # The baseline must not include memory the server is still giving back after start-up
    # (parsing a 100k-user topology holds ~0.5 GB for tens of seconds): wait until two
    # readings 5 s apart differ by less than 1 %, for at most SETTLE seconds.
    m0=$(pss_kb "$pid")
    for _ in $(seq 1 $(( SETTLE / 5 ))); do
        sleep 5
        m1=$(pss_kb "$pid")
        [ $(( (m0 - m1) * 100 )) -lt "$m0" ] && [ $(( (m1 - m0) * 100 )) -lt "$m0" ] && break
        m0=$m1
    done
    m0=$(pss_kb "$pid"); t0=$(cpu_ticks "$pid")
    ok=$(register_users "$name" "$port" 1 "$N" run)
    t1=$(cpu_ticks "$pid")
    # Steady state: past 64·T1 = 32 s every transaction of the load has ended (Convene keeps a
    # UDP non-INVITE server transaction that long, RFC 3261 §17.2.2; Kamailio answers REGISTER
    # statelessly), so what is left is what the registrations themselves hold.
    sleep "$SETTLE"
    m1=$(pss_kb "$pid")
    cpu=$(cpu_s "$t0" "$t1")
    if [ "$ok" -gt 0 ]; then
        bytes=$(( (m1 - m0) * 1024 / ok ))
        per=$(awk -v c="$cpu" -v n="$ok" 'BEGIN {printf "%.3f", c * 10000 / n}')
        PER_REG[$name]=$bytes
    else
        bytes=n/a; per=n/a
    fi
    printf '%-9s %10s %7s %12s %12s %10s %8s %10s\n' "$name" "$ok" $(( N - ok )) "$m0" "$m1" "$bytes" "$cpu" "$per"
    if [ $(( (N - ok) * 1000 )) -gt "$N" ]; then
        echo "  $name: more than 0.1 % of the registrations failed; SIPp errors:"; sipp_errors "$BENCH_WORK/$name-run"
    fi
}

echo "memory per registration: $N distinct users at $RATE/s after $WARM warm-up registrations"
printf '%-9s %10s %7s %12s %12s %10s %8s %10s\n' server registered failed "PSS0 kB" "PSS1 kB" "bytes/reg" cpu_s cpu_s/10k
# Kamailio's shared memory sized for the location table of N users (pages are only resident once
# used).
both_servers bench/kamailio-proxy.cfg $(( 1024 + N / 100 )) $(( N + WARM )) measure
echo
if [ -n "$bin" ] && [ -z "${PER_REG[convene]:-}" ]; then
    echo "convene   FAILED: no memory figure (see above)"
fi
if [ -n "${PER_REG[convene]:-}" ] && [ -n "${PER_REG[kamailio]:-}" ]; then
    echo "ratio     convene/kamailio bytes per registration = $(ratio "${PER_REG[convene]}" "${PER_REG[kamailio]}")"
fi
