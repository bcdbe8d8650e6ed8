#!/usr/bin/env bash
# Criterion bench of the SIP parser against rsip, same messages, same run (issue 3).
# Usage: bench/sip-parse.sh [criterion args, e.g. --measurement-time 5]
# Reports time per message and MB/s for "parse" (split only) and "typed" (split + every typed
# header a proxy reads). Compare ratios within one run: machines here are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/sip-parse"
exec cargo bench --bench parse -- "$@"
