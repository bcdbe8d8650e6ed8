# Shared helpers for the SIP benchmarks in bench/ (options.sh, register.sh, calls.sh,
# reg-memory.sh). Source it from a script that has already cd'ed to the repository root:
#   . bench/lib.sh
# It sets `set -euo pipefail`, makes a work directory ($BENCH_WORK, removed on exit unless
# KEEP_WORK=1) and stops every process registered with bench_track on exit.
set -euo pipefail

HZ=$(getconf CLK_TCK)
BENCH_WORK=$(mktemp -d /tmp/convene-bench.XXXXXX)
BENCH_PIDS=()

bench_cleanup() {
    local p
    for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work directory kept: $BENCH_WORK" >&2; else rm -rf "$BENCH_WORK"; fi
}
trap bench_cleanup EXIT

# bench_track PID: stop PID when the script exits.
bench_track() { BENCH_PIDS+=("$1"); }

# bench_stop PID: stop one process now (SIGTERM, then SIGKILL after 5 s) and wait for it.
bench_stop() {
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# need_tools: exit 2 with the install hint unless sipp and kamailio are on PATH.
need_tools() {
    command -v sipp >/dev/null || { echo "needs sipp: apt-get install -y sip-tester" >&2; exit 2; }
    command -v kamailio >/dev/null || { echo "needs kamailio: apt-get install -y kamailio" >&2; exit 2; }
}

# free_udp_port: a UDP port on 127.0.0.1 that nobody holds right now.
free_udp_port() {
    python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_udp_listen PORT SECONDS: wait until something listens on udp 127.0.0.1:PORT.
wait_udp_listen() {
    local port=$1 n=$(( $2 * 10 )) i
    for i in $(seq "$n"); do
        ss -Hlun "sport = :$port" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

# tree_pids PID: PID and all its descendants (Kamailio forks its workers from the main process).
tree_pids() {
    local c
    echo "$1"
    for c in $(pgrep -P "$1" 2>/dev/null); do tree_pids "$c"; done
}

# cpu_ticks PID: user + system clock ticks of PID and its descendants (/proc/PID/stat fields 14, 15).
cpu_ticks() {
    local total=0 p
    for p in $(tree_pids "$1"); do
        [ -r "/proc/$p/stat" ] || continue
        # The command name (field 2) may hold spaces: count fields after the closing parenthesis.
        total=$(( total + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}') ))
    done
    echo "$total"
}

# cpu_s TICKS0 TICKS1: seconds between two cpu_ticks readings.
cpu_s() { awk -v a="$1" -v b="$2" -v hz="$HZ" 'BEGIN {printf "%.3f\n", (b - a) / hz}'; }

# pss_kb PID: proportional set size (kB) of PID and its descendants: shared pages (Kamailio's
# shared memory segment) are split among the processes that map them, so the sum counts them once.
pss_kb() {
    local total=0 p v
    for p in $(tree_pids "$1"); do
        v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
        total=$(( total + ${v:-0} ))
    done
    echo "$total"
}

# rss_kb PID: resident set size (kB) of PID alone.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# start_kamailio CFG PORT [SHM_MB]: start Kamailio (shared memory default 1024 MB: at 3,200 calls/s
# tm needs more than 256; pages only count once used) in the foreground (-DD) on udp 127.0.0.1:PORT
# with its own runtime dir under $BENCH_WORK; sets KM_PID. Log in $BENCH_WORK/kamailio-PORT.log.
start_kamailio() {
    local cfg=$1 port=$2 shm=${3:-1024} dir="$BENCH_WORK/kamailio-$2"
    mkdir -p "$dir"
    kamailio -f "$cfg" -l "udp:127.0.0.1:$port" -Y "$dir" -P "$dir/kamailio.pid" -DD -E \
        -m "$shm" -M 16 >"$dir.log" 2>&1 &
    KM_PID=$!
    bench_track "$KM_PID"
    if ! wait_udp_listen "$port" 10 || ! kill -0 "$KM_PID" 2>/dev/null; then
        echo "kamailio did not start; its log:" >&2; tail -20 "$dir.log" >&2
        return 1
    fi
}

# convene_bin: the Convene binary to measure ($CONVENE_BIN, else target/release/convene), or
# nothing if there is none.
convene_bin() {
    if [ -n "${CONVENE_BIN:-}" ]; then
        [ -x "$CONVENE_BIN" ] && { echo "$CONVENE_BIN"; return; }
        echo "CONVENE_BIN=$CONVENE_BIN is not an executable file" >&2
        return
    fi
    [ -x target/release/convene ] && echo target/release/convene
    return 0
}

# start_convene BIN TOPOLOGY PORT: start `convene up` on udp 127.0.0.1:PORT with the topology
# file TOPOLOGY (or the built-in demo if empty) and a fresh data directory, wait for its
# "listening udp 127.0.0.1:PORT" line (up to $CONVENE_START_SECS, default 120 s); sets CV_PID.
# Returns 1, after printing why, if it does not come up.
start_convene() {
    local bin=$1 topo=$2 port=$3 dir="$BENCH_WORK/convene-$3" i
    local wait=$(( ${CONVENE_START_SECS:-120} * 10 ))
    mkdir -p "$dir"
    # SIPp computes only MD5 and answers the first challenge: offer MD5 alone, as Kamailio does.
    local args=(up --data "$dir/data" --listen "udp:127.0.0.1:$port" --no-relay --digest-algorithms MD5)
    [ -n "$topo" ] && args+=(--topology "$topo")
    CONVENE_LOG=${CONVENE_LOG:-warn} "$bin" "${args[@]}" >"$dir/out" 2>"$dir/err" &
    CV_PID=$!
    bench_track "$CV_PID"
    for i in $(seq "$wait"); do
        grep -q "^listening udp 127.0.0.1:$port\$" "$dir/out" 2>/dev/null && return 0
        kill -0 "$CV_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$CV_PID" 2>/dev/null; then
        echo "convene: no \"listening udp 127.0.0.1:$port\" line within ${CONVENE_START_SECS:-120} s (raise CONVENE_START_SECS); stderr:"
    else
        echo "convene: exited before listening; stderr:"
    fi
    tail -20 "$dir/err" | sed 's/^/  /'
    bench_stop "$CV_PID"
    return 1
}

# users_csv FILE FIRST COUNT: SIPp injection file with users u<FIRST>..u<FIRST+COUNT-1>, one a
# line: name;[authentication username=name password=name-dev] (password rule "<name>-dev",
# realm example.test, the same for Kamailio's config and bench/gen-users.py).
users_csv() {
    awk -v first="$2" -v n="$3" 'BEGIN {
        print "SEQUENTIAL"
        for (i = first; i < first + n; i++) {
            u = sprintf("u%06d", i)
            printf "%s;[authentication username=%s password=%s-dev]\n", u, u, u
        }
    }' >"$1"
}

# sipp_count FILE WHAT: a cumulative counter from SIPp's final statistics screen
# (WHAT: "Successful call" or "Failed call"); 0 if absent.
sipp_count() {
    awk -F'|' -v what="$2" 'index($0, what) {gsub(/ /, "", $3); v = $3} END {print v + 0}' "$1"
}

# sipp_errors DIR: the kinds of events in the SIPp error logs of DIR, most frequent first, with
# counts (call ids and numbers blanked; late answers to calls that already succeeded left out).
sipp_errors() {
    python3 - "$1" <<'PY'
import collections, glob, re, sys
events = collections.Counter()
stamp = re.compile(r"\d{4}-\d\d-\d\d\t[\d:.]+\t[\d.]+: ")
for f in glob.glob(sys.argv[1] + "/*_errors.log"):
    text = open(f, errors="replace").read()
    for ev in stamp.split(text)[1:]:
        head = ev.strip().splitlines()
        if not head or "(successful)" in head[0]:
            continue
        line = head[0]
        line = re.sub(r"\d+-\d+@[\d.]+", "N", line)
        line = re.sub(r"\d{4,}", "N", line)
        events[line[:200]] += 1
if not events:
    print("    (no SIPp errors logged)")
for text, n in events.most_common(5):
    print(f"    {n} x {text}")
PY
}

# Result bookkeeping. result NAME RATE SENT FAILED CPU_S ACHIEVED prints one table row and
# remembers it; RATE is the rate asked of SIPp, ACHIEVED the rate SIPp reports it reached
# (cumulative "Call Rate"). Returns 0 if the step passed (<= 0.1 % failures and at least 95 %
# of RATE reached), 1 if more than 0.1 % failed, 2 if SIPp fell short of the rate (on 2 shared
# cores the load generator runs out before the server does; the step then proves nothing).
declare -gA R_CPU10K=() R_OK=() R_BEST=() R_BEST_CPU10K=() R_STOP=()
R_RATES=()
result_header() {
    printf '%-9s %7s %9s %8s %7s %8s %10s\n' server rate/s achieved sent failed cpu_s "cpu_s/10k"
}
result() {
    local name=$1 rate=$2 sent=$3 failed=$4 cpu=$5 ach=$6 per=n/a
    [ "$sent" -gt 0 ] && per=$(awk -v c="$cpu" -v n="$sent" 'BEGIN {printf "%.3f\n", c * 10000 / n}')
    printf '%-9s %7s %9.0f %8s %7s %8s %10s\n' "$name" "$rate" "$ach" "$sent" "$failed" "$cpu" "$per"
    R_CPU10K[$name,$rate]=$per
    [[ " ${R_RATES[*]} " == *" $rate "* ]] || R_RATES+=("$rate")
    if [ "$sent" -eq 0 ] || [ $((failed * 1000)) -gt "$sent" ]; then
        R_STOP[$name]="more than 0.1 % failed at $rate/s"
        return 1
    fi
    if awk -v a="$ach" -v r="$rate" 'BEGIN {exit !(a < 0.95 * r)}'; then
        R_STOP[$name]="SIPp reached only $(printf '%.0f' "$ach")/s when asked for $rate/s"
        return 2
    fi
    R_OK[$name,$rate]=1; R_BEST[$name]=$rate; R_BEST_CPU10K[$name]=$per
    return 0
}

# sipp_result NAME RATE SENT DIR T0 T1: the row for one SIPp run in DIR (its sipp.out) that
# sent SENT at RATE while the server's CPU went from T0 to T1 ticks; shows SIPp's errors when
# more than 0.1 % failed. Returns what `result` returns.
sipp_result() {
    local name=$1 rate=$2 sent=$3 dir=$4 ok rc=0
    ok=$(sipp_count "$dir/sipp.out" "Successful call")
    result "$name" "$rate" "$sent" $(( sent - ok )) "$(cpu_s "$5" "$6")" \
        "$(sipp_count "$dir/sipp.out" "Call Rate")" || rc=$?
    if [ "$rc" = 1 ]; then echo "  $name: SIPp errors at $rate/s:"; sipp_errors "$dir"; fi
    return "$rc"
}

# ratio A B: A / B to two decimals, or n/a.
ratio() {
    case "$1$2" in *n/a*|"") echo n/a; return;; esac
    awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b}' 
}

# result_summary UNIT: highest passing rate per server and the CPU ratio convene/kamailio.
result_summary() {
    local unit=$1 r k c
    echo
    for k in kamailio convene; do
        if [ -n "${R_BEST[$k]:-}" ]; then
            printf '%-9s highest rate with <= 0.1%% failures: %s %s/s, %s CPU-s per 10,000 there%s\n' \
                "$k" "${R_BEST[$k]}" "$unit" "${R_BEST_CPU10K[$k]}" \
                "$([ -n "${R_STOP[$k]:-}" ] && echo "; beyond: ${R_STOP[$k]}" || echo "; every rate passed: add higher ones")"
        elif [ -n "${R_STOP[$k]:-}" ]; then
            printf '%-9s FAILED: no rate passed (%s)\n' "$k" "${R_STOP[$k]}"
        fi
    done
    for r in "${R_RATES[@]}"; do
        [ -n "${R_OK[kamailio,$r]:-}" ] && [ -n "${R_OK[convene,$r]:-}" ] || continue
        k=${R_CPU10K[kamailio,$r]}; c=${R_CPU10K[convene,$r]}
        printf 'ratio     %7s   convene/kamailio CPU-s per 10,000 %s = %s\n' "$r" "$unit" "$(ratio "$c" "$k")"
    done
    if [ -n "${R_BEST[convene]:-}" ] && [ -n "${R_BEST[kamailio]:-}" ]; then
        printf 'ratio     highest rate convene/kamailio = %s\n' "$(ratio "${R_BEST[convene]}" "${R_BEST[kamailio]}")"
    fi
}

# both_servers KAMAILIO_CFG KAMAILIO_SHM_MB USERS RUN: runs `RUN NAME PID PORT` against Kamailio
# (KAMAILIO_CFG; shared memory KAMAILIO_SHM_MB, empty for the default), stops it, then against
# `convene up` on the demo topology plus USERS bench users from bench/gen-users.py (empty: the
# demo alone), saying so when Convene is missing, does not start, or exits during the run.
# Sets `bin` (the Convene binary measured, empty if none).
both_servers() {
    local cfg=$1 shm=$2 users=$3 run=$4 port topo=""
    port=$(free_udp_port)
    # shellcheck disable=SC2086 # an empty shm passes no argument
    start_kamailio "$cfg" "$port" $shm
    "$run" kamailio "$KM_PID" "$port"
    bench_stop "$KM_PID"

    bin=$(convene_bin)
    if [ -z "$bin" ]; then
        echo "convene: not measured (no binary: set CONVENE_BIN or build target/release/convene)"
        return 0
    fi
    if [ -n "$users" ]; then
        topo="$BENCH_WORK/topology.toml"
        if ! python3 bench/gen-users.py "$users" "$topo"; then
            echo "convene: not measured (bench/gen-users.py failed)"
            return 0
        fi
    fi
    port=$(free_udp_port)
    start_convene "$bin" "$topo" "$port" || return 0
    "$run" convene "$CV_PID" "$port"
    kill -0 "$CV_PID" 2>/dev/null || { echo "convene: the server exited during the run; stderr:"; tail -20 "$BENCH_WORK/convene-$port/err" | sed 's/^/  /'; }
    bench_stop "$CV_PID"
}
