#!/usr/bin/env python3
"""Write a topology for the SIP benchmarks: the demo topology plus N bench users.

Usage: bench/gen-users.py N OUT [--demo FILE] [--first K]

Copies FILE (default: topology/demo.toml next to this script's directory) to OUT and appends
N [[user]] tables u<K>..u<K+N-1> (six digits, K defaults to 1), in the layout of the demo's
alice/bob/carol: aor sip:<name>@<domain>, the demo's first pool, and [user.password] with
realm, username and the Digest HA1 = H(username ":" realm ":" password) in MD5 and SHA-256
hex (RFC 7616 §3.4.2). The password of every bench user is "<name>-dev", realm and domain the
demo's first [[sip_domain]] (example.test): the same rule as bench/kamailio-proxy.cfg and the
SIPp injection files of bench/lib.sh.
"""

import argparse
import hashlib
import sys
import tomllib
from pathlib import Path


def main() -> int:
    default_demo = Path(__file__).resolve().parent.parent / "topology" / "demo.toml"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="number of bench users")
    ap.add_argument("out", type=Path, help="topology file to write")
    ap.add_argument("--demo", type=Path, default=default_demo, help="topology to start from")
    ap.add_argument("--first", type=int, default=1, help="number of the first user")
    args = ap.parse_args()
    if args.n < 0 or args.first < 1 or args.first + args.n - 1 > 999_999:
        print("gen-users.py: users are u000001..u999999; pick N and --first inside that", file=sys.stderr)
        return 2

    try:
        demo_text = args.demo.read_text(encoding="utf-8")
        demo = tomllib.loads(demo_text)
    except (OSError, tomllib.TOMLDecodeError) as e:
        print(f"gen-users.py: cannot read the topology {args.demo}: {e}", file=sys.stderr)
        return 1
    try:
        domain = demo["sip_domain"][0]["name"]
        pool = demo["pool"][0]["fqdn"]
    except (KeyError, IndexError):
        print(f"gen-users.py: {args.demo} needs a [[sip_domain]] and a [[pool]]", file=sys.stderr)
        return 1
    realm = domain

    names = {u.get("password", {}).get("username") for u in demo.get("user", [])}
    parts = [demo_text.rstrip("\n"), "", f"# {args.n} bench users (bench/gen-users.py), password \"<name>-dev\"."]
    for i in range(args.first, args.first + args.n):
        name = f"u{i:06d}"
        if name in names:
            print(f"gen-users.py: {args.demo} already has a user {name}", file=sys.stderr)
            return 1
        a1 = f"{name}:{realm}:{name}-dev".encode()
        parts.append(
            "\n[[user]]\n"
            f'aor = "sip:{name}@{domain}"\n'
            f'pool = "{pool}"\n'
            "[user.password]\n"
            f'realm = "{realm}"\n'
            f'username = "{name}"\n'
            f'ha1_md5 = "{hashlib.md5(a1).hexdigest()}"\n'
            f'ha1_sha256 = "{hashlib.sha256(a1).hexdigest()}"'
        )
    try:
        args.out.write_text("\n".join(parts) + "\n", encoding="utf-8")
    except OSError as e:
        print(f"gen-users.py: cannot write {args.out}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
