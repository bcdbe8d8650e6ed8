#!/usr/bin/env bash
# Instructions per message for Convene's parser and rsip (valgrind callgrind: repeatable on a
# noisy machine). Prints one line per (message, work) with both counts and the ratio.
set -euo pipefail
cd "$(dirname "$0")/sip-parse"
cargo build --release --example count -q
bin=target/release/examples/count
count() { # parser msg work n -> instructions per iteration (n vs 2n difference removes start-up)
    local a b
    a=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" "$4" 2>&1 | awk '/Collected/ {print $4}')
    b=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" $(($4 * 2)) 2>&1 | awk '/Collected/ {print $4}')
    echo $(( (b - a) / $4 ))
}
printf '%-10s %-6s %14s %14s %7s\n' message work convene rsip ratio
for m in invite register ok; do
    for w in parse typed; do
        c=$(count convene $m $w 2000); r=$(count rsip $m $w 2000)
        printf '%-10s %-6s %14s %14s %6.2fx\n' "$m" "$w" "$c" "$r" "$(echo "$r / $c" | bc -l)"
    done
done
