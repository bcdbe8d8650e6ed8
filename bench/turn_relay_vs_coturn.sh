#!/usr/bin/env bash
# Relayed packets per second and CPU seconds per million relayed packets, Convene's relay
# (crates/turn-relay, example `relay`) against coturn's turnserver, under the same
# turnutils_uclient load (Debian package coturn), one after the other, on 127.0.0.1.
#
# Usage: bench/turn_relay_vs_coturn.sh            (defaults below; override with env vars)
#   CLIENTS  uclient sessions per level, space-separated levels (default "20 50 100")
#   MESSAGES messages per session (default 500)   LEN  bytes per message (default 172)
#   INTERVAL ms between messages per session (default 2)
# A level counts for "max packets/s" only if its loss is <= 0.1 %.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-"20 50 100"}
MESSAGES=${MESSAGES:-500}
LEN=${LEN:-172}
INTERVAL=${INTERVAL:-2}
PEER_PORT=34801
CONVENE_PORT=34781
COTURN_PORT=34782
TICKS=$(getconf CLK_TCK)

for bin in turnserver turnutils_uclient turnutils_peer; do
    command -v "$bin" >/dev/null || { echo "missing $bin: apt-get install coturn" >&2; exit 1; }
done
cargo build --release --quiet -p turn-relay --example relay
CONVENE_BIN=target/release/examples/relay

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >/dev/null 2>&1 &
pids+=($!)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_level NAME PORT PID CLIENTS -> prints one result line
run_level() {
    local name=$1 port=$2 pid=$3 clients=$4 out
    out=$(mktemp)
    local c0 t0 c1 t1
    c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
    timeout 300 turnutils_uclient -u turnuser -w turnpass -p "$port" -e 127.0.0.1 -r "$PEER_PORT" \
        -m "$clients" -n "$MESSAGES" -l "$LEN" -z "$INTERVAL" -c 127.0.0.1 >"$out" 2>&1 || true
    t1=$(date +%s.%N); c1=$(cpu_ticks "$pid")
    local sent recv loss
    sent=$(grep -o 'tot_send_msgs=[0-9]*' "$out" | tail -1 | cut -d= -f2)
    recv=$(grep -o 'tot_recv_msgs=[0-9]*' "$out" | tail -1 | cut -d= -f2)
    loss=$(grep -o 'Total lost packets [0-9]* ([0-9.]*%)' "$out" | tail -1 | grep -o '([0-9.]*' | tr -d '(')
    rm -f "$out"
    awk -v n="$name" -v c="$clients" -v s="${sent:-0}" -v r="${recv:-0}" -v l="${loss:-100}" \
        -v t0="$t0" -v t1="$t1" -v cpu="$(( c1 - c0 ))" -v hz="$TICKS" 'BEGIN {
        w = t1 - t0; relayed = s + r; pps = (w > 0) ? relayed / w : 0; cs = cpu / hz;
        per_m = (relayed > 0) ? cs / relayed * 1e6 : 0;
        printf "%-8s clients=%-4d relayed=%-8d wall=%6.2fs pps=%9.0f loss=%s%% cpu=%6.2fs cpu_s_per_Mpkt=%7.2f %s\n",
            n, c, relayed, w, pps, l, cs, per_m, (l <= 0.1 ? "ok" : "LOSSY") }'
}

"$CONVENE_BIN" "127.0.0.1:$CONVENE_PORT" 127.0.0.1 42000-42999 turnuser:turnpass example.test allow-loopback 2>/dev/null &
convene_pid=$!; pids+=("$convene_pid")
turnserver -n -L 127.0.0.1 --listening-port "$COTURN_PORT" --lt-cred-mech -u turnuser:turnpass \
    -r example.test --no-tls --no-dtls --allow-loopback-peers --min-port 43000 --max-port 43999 \
    --no-cli --log-file stdout >/dev/null 2>&1 &
coturn_pid=$!; pids+=("$coturn_pid")
sleep 1

for clients in $CLIENTS; do
    run_level convene "$CONVENE_PORT" "$convene_pid" "$clients"
    run_level coturn "$COTURN_PORT" "$coturn_pid" "$clients"
done
