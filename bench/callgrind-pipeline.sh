#!/usr/bin/env bash
# Instructions the server spends per registration and per call, without sockets: the front end
# example `pipeline` (crates/frontend/examples/pipeline.rs) feeds SIPp-shaped messages through
# parse, validate, the front end and serialization on a virtual clock. Counted with valgrind
# callgrind over `server_side` only (the clients' work is not counted); the difference between
# N and 2N iterations removes start-up. Repeatable on a busy machine, unlike timings.
#
# Usage: bench/callgrind-pipeline.sh [N]   (default 1000; env WORK="register" or "call" for one)
# Needs: valgrind. Builds the example with cargo (release profile).
# Note: valgrind hides SHA-NI from the program, so SHA-256 (nonces, GRUU tags) counts more here
# than it costs on a CPU that has it.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
cargo build --release -q -p frontend --example pipeline
bin=${CARGO_TARGET_DIR:-target}/release/examples/pipeline
count() { # what n -> instructions in server_side
    valgrind --tool=callgrind --toggle-collect='pipeline::server_side*' --callgrind-out-file=/dev/null \
        "$bin" "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'
}
printf '%-10s %16s\n' work instructions
for w in ${WORK:-register call}; do
    a=$(count "$w" "$n"); b=$(count "$w" $((n * 2)))
    printf '%-10s %16s\n' "$w" $(( (b - a) / n ))
done
