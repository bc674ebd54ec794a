#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seeds: tokens and payloads taken from the
# test vectors in tests/data/, plus the hand-written files in fuzz/seeds/<target>/.
# Idempotent: each seed is named by the SHA-1 of its bytes, as libFuzzer does.
#
#   fuzz/seed.sh            # from anywhere
set -euo pipefail

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data_dir="$fuzz_dir/../tests/data"

for file in jws_hs256_vectors.json jwt_negative_cases.json; do
    [[ -f "$data_dir/$file" ]] || { echo "seed.sh: missing $data_dir/$file" >&2; exit 1; }
done

python3 - "$data_dir" "$fuzz_dir/corpus" <<'PY'
import base64, hashlib, json, os, sys

data_dir, corpus = sys.argv[1], sys.argv[2]

def add(target, blob):
    os.makedirs(os.path.join(corpus, target), exist_ok=True)
    name = hashlib.sha1(blob).hexdigest()
    with open(os.path.join(corpus, target, name), "wb") as f:
        f.write(blob)

def lenient_b64(text):
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except Exception:
        return None

tokens = [v["token"] for v in json.load(open(os.path.join(data_dir, "jws_hs256_vectors.json")))]
payloads = [v["payload_json"].encode() for v in json.load(open(os.path.join(data_dir, "jws_hs256_vectors.json")))]
# token is null for the 1 MB case (kept in a file of its own): too big for a seed.
tokens += [c["token"] for c in json.load(open(os.path.join(data_dir, "jwt_negative_cases.json")))["cases"]
           if c.get("token") is not None]

for token in tokens:
    raw = token.encode()
    add("decode_token", raw)
    add("decode_unverified", raw)
    parts = token.split(".")
    for part in parts:
        add("base64url", part.encode())
    if len(parts) == 3:
        decoded = [lenient_b64(p) for p in parts]
        if decoded[0] is not None and decoded[1] is not None:
            # The targets' structured modes: 0x00, then raw segments separated by 0x00.
            add("decode_token", b"\0" + decoded[0] + b"\0" + decoded[1])
            add("decode_unverified", b"\0" + b"\0".join(d if d is not None else b"" for d in decoded))
            payloads.append(decoded[1])

for payload in payloads:
    if payload and payload[:1] != b"\0":
        add("validate_claims", payload)

print(f"seed.sh: {len(tokens)} tokens, {len(payloads)} payloads from {data_dir}")
PY

for dir in "$fuzz_dir"/seeds/*/; do
    [[ -d "$dir" ]] || continue
    target="$(basename "$dir")"
    mkdir -p "$fuzz_dir/corpus/$target"
    for seed in "$dir"*; do
        [[ -f "$seed" ]] || continue
        cp "$seed" "$fuzz_dir/corpus/$target/$(sha1sum "$seed" | cut -c1-40)"
    done
done

for target in decode_token decode_unverified base64url validate_claims; do
    mkdir -p "$fuzz_dir/corpus/$target"
    echo "seed.sh: corpus/$target: $(find "$fuzz_dir/corpus/$target" -type f | wc -l) files"
done
