#!/usr/bin/env bash
# Relayed packets per second and per CPU-second of the relay, Convene's relay (crates/turn-relay,
# example `relay`, the driver `convene up` runs) against coturn's turnserver, under the same
# load from a Rust load generator (crates/turn-relay/examples/loadgen.rs) instead of coturn's
# turnutils_uclient, which runs out of CPU before either relay does. Each level offers RATE
# ChannelData messages/s in total over ALLOCATIONS allocations for SECONDS; an echo peer per
# allocation sends each one back, so every message is relayed twice (client->peer, peer->client).
#
# Usage: bench/turn_relay_loadgen.sh     (override with env vars)
#   RATES        offered messages/s, space-separated levels (default "10000 20000 40000 80000")
#   ALLOCATIONS  (default 20)   SECONDS per level (default 5)   LEN data bytes (default 172)
# A level counts only if its loss is <= 0.1 %. pkt_per_cpu_s = relayed packets per CPU-second
# of the relay process (user + system): packets/s per core. Relayed ports lie below the
# ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), where the echo peers bind: a
# relay refuses a peer on its own relayed address (403).
set -euo pipefail
cd "$(dirname "$0")/.."

RATES=${RATES:-"10000 20000 40000 80000"}
ALLOCATIONS=${ALLOCATIONS:-20}
SECONDS_PER_LEVEL=${SECONDS:-5}
LEN=${LEN:-172}
CONVENE_PORT=34791
COTURN_PORT=34792
TICKS=$(getconf CLK_TCK)
TARGET=${CARGO_TARGET_DIR:-target}

command -v turnserver >/dev/null || { echo "missing turnserver: apt-get install coturn" >&2; exit 1; }
cargo build --release --quiet -p turn-relay --example relay --example loadgen
RELAY_BIN=$TARGET/release/examples/relay
LOADGEN_BIN=$TARGET/release/examples/loadgen

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_level NAME PORT PID RATE -> prints one result line
run_level() {
    local name=$1 port=$2 pid=$3 rate=$4 out c0 c1
    c0=$(cpu_ticks "$pid")
    out=$("$LOADGEN_BIN" "127.0.0.1:$port" turnuser turnpass "$ALLOCATIONS" "$rate" "$SECONDS_PER_LEVEL" "$LEN" 2>&1) || {
        echo "$name rate=$rate: loadgen failed: $out"; return; }
    c1=$(cpu_ticks "$pid")
    # sent=… at_peer=… back=… relayed=… wall=… loss=…%
    awk -v n="$name" -v r="$rate" -v cpu="$(( c1 - c0 ))" -v hz="$TICKS" -v line="$out" 'BEGIN {
        split(line, f, /[ =%]+/); relayed = f[8]; wall = f[10]; loss = f[12]; cs = cpu / hz;
        pps = (wall > 0) ? relayed / wall : 0; per_cpu = (cs > 0) ? relayed / cs : 0;
        printf "%-8s offered=%-6d relayed=%-8d pps=%8.0f loss=%6.3f%% cpu=%5.2fs pkt_per_cpu_s=%8.0f cpu_s_per_Mpkt=%6.2f %s\n",
            n, r, relayed, pps, loss, cs, per_cpu, (relayed > 0 ? cs / relayed * 1e6 : 0), (loss <= 0.1 ? "ok" : "LOSSY") }'
}

"$RELAY_BIN" "127.0.0.1:$CONVENE_PORT" 127.0.0.1 20000-20999 turnuser:turnpass example.test allow-loopback 2>/dev/null &
convene_pid=$!; pids+=("$convene_pid")
turnserver -n -L 127.0.0.1 --listening-port "$COTURN_PORT" --lt-cred-mech -u turnuser:turnpass \
    -r example.test --no-tls --no-dtls --allow-loopback-peers --min-port 21000 --max-port 21999 \
    --no-cli --log-file stdout >/dev/null 2>&1 &
coturn_pid=$!; pids+=("$coturn_pid")
sleep 1
echo "# $(date -u +%FT%TZ) $(nproc) CPU(s); $ALLOCATIONS allocations, ${SECONDS_PER_LEVEL}s per level, $LEN bytes; coturn $(turnserver --version 2>/dev/null | head -1)"
for rate in $RATES; do
    run_level convene "$CONVENE_PORT" "$convene_pid" "$rate"
    run_level coturn "$COTURN_PORT" "$coturn_pid" "$rate"
done
