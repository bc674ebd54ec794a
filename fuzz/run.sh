#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each, one after the other, and fails if
# any of them finds a crash (a panic, a failed assertion, a timeout, an OOM).
#
#   fuzz/run.sh 60                      # stable toolchain, no sanitizer (-s none)
#   ASAN=1 fuzz/run.sh 3600             # AddressSanitizer (needs RUSTC_BOOTSTRAP=1, set here)
#   TARGETS="base64url decode_token" fuzz/run.sh 30
#
# The corpus is seeded first (seed.sh), grows in fuzz/corpus/<target>/ and is
# kept between runs. Crashing inputs go to fuzz/artifacts/<target>/; each
# target's full libFuzzer log goes to fuzz/logs/<target>.log.
# Extra libFuzzer flags can be passed in FUZZ_ARGS (e.g. FUZZ_ARGS="-max_len=9000").
set -euo pipefail

seconds="${1:-}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
    echo "usage: $0 SECONDS   (per target; env: ASAN=1, TARGETS=\"...\", FUZZ_ARGS=\"...\")" >&2
    exit 2
fi

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir"
targets=(${TARGETS:-decode_token decode_unverified base64url validate_claims router http_head})

if [[ "${ASAN:-0}" == 1 ]]; then
    # AddressSanitizer needs -Zsanitizer: allowed on a stable toolchain only
    # with RUSTC_BOOTSTRAP=1. No unsafe code in minijwt, so this mainly
    # watches the dependencies and libFuzzer's own harness.
    # A target dir of its own, so switching modes does not rebuild everything.
    export RUSTC_BOOTSTRAP=1
    sanitizer=(--target-dir target/asan)
    mode="AddressSanitizer"
else
    sanitizer=(-s none)
    mode="no sanitizer"
fi

./seed.sh
echo "== building ${targets[*]} ($mode)"
# Build every target once; `cargo fuzz run` below then finds them up to date.
cargo fuzz build "${sanitizer[@]}"

mkdir -p logs
failed=()
summary=()
for target in "${targets[@]}"; do
    log="logs/$target.log"
    echo "== $target: ${seconds}s ($mode), log in fuzz/$log"
    status=0
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    cargo fuzz run "${sanitizer[@]}" "$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?

    execs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)"
    rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)"
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
    cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<<"$done_line" || true)"
    corpus="$(find "corpus/$target" -type f | wc -l)"
    [[ -n "$done_line" ]] && echo "   $done_line"
    grep -E '^stat::' "$log" | sed 's/^/   /' || true

    if [[ "$status" -ne 0 ]]; then
        failed+=("$target")
        echo "!! $target FAILED (exit $status): last lines of fuzz/$log:"
        grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Failing input|artifact_prefix|Test unit written' "$log" | head -n 20
        tail -n 15 "$log"
        summary+=("$(printf '%-18s %-6s %12s %8s  %-22s %6s' "$target" FAIL "${execs:--}" "${rate:--}" "${cov:--}" "$corpus")")
    else
        summary+=("$(printf '%-18s %-6s %12s %8s  %-22s %6s' "$target" ok "${execs:--}" "${rate:--}" "${cov:--}" "$corpus")")
    fi
done

echo
echo "== summary: ${seconds}s per target, $mode"
printf '%-18s %-6s %12s %8s  %-22s %6s\n' target result execs exec/s coverage corpus
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "crash found in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
