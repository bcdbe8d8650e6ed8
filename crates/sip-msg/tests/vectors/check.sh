#!/usr/bin/env bash
# Checks that MANIFEST.toml and the vector files agree: every listed file exists, is non-empty and
# has the listed size and sha256; every .dat file under rfc4475/ and rfc5118/ is listed exactly
# once. It does not parse SIP; the sip-msg tests do that.
#
# Usage: crates/sip-msg/tests/vectors/check.sh   (from anywhere)
set -euo pipefail
cd "$(dirname "$0")"

fail=0
err() {
    echo "check.sh: $*" >&2
    fail=1
}

# One "file size sha256" line per [[vector]] block, in manifest order.
entries="$(awk '
    function flush() { if (file != "") print file, size, sha; file = ""; size = ""; sha = "" }
    { sub(/\r$/, "") }
    /^\[\[vector\]\]/ { flush() }
    /^file = "/   { v = $0; sub(/^file = "/, "", v); sub(/".*$/, "", v); file = v }
    /^size = /     { v = $0; sub(/^size = /, "", v); size = v }
    /^sha256 = "/ { v = $0; sub(/^sha256 = "/, "", v); sub(/".*$/, "", v); sha = v }
    END { flush() }
' MANIFEST.toml)"

blocks="$(grep -c '^\[\[vector\]\]' MANIFEST.toml || true)"
listed="$(printf '%s\n' "$entries" | grep -c . || true)"
[[ "$blocks" == "$listed" ]] || err "$blocks [[vector]] blocks but $listed with a file"

while read -r file size sha; do
    [[ -n "$file" ]] || continue
    if [[ ! -f "$file" ]]; then
        err "$file is listed but missing"
        continue
    fi
    actual_size="$(wc -c <"$file" | tr -d ' ')"
    [[ "$actual_size" -gt 0 ]] || err "$file is empty"
    [[ "$actual_size" == "$size" ]] || err "$file has $actual_size bytes, manifest says ${size:-nothing}"
    actual_sha="$(sha256sum "$file" | cut -d' ' -f1)"
    [[ "$actual_sha" == "$sha" ]] || err "$file sha256 $actual_sha, manifest says ${sha:-nothing}"
done <<<"$entries"

dups="$(printf '%s\n' "$entries" | cut -d' ' -f1 | sort | uniq -d)"
[[ -z "$dups" ]] || err "listed more than once: $dups"

on_disk="$(find rfc4475 rfc5118 -type f | sort)"
in_manifest="$(printf '%s\n' "$entries" | cut -d' ' -f1 | sort -u)"
unlisted="$(comm -23 <(printf '%s\n' "$on_disk") <(printf '%s\n' "$in_manifest"))"
[[ -z "$unlisted" ]] || err "files not in MANIFEST.toml: $unlisted"

if ((fail)); then
    exit 1
fi
echo "check.sh: $listed vectors, manifest and files agree"
