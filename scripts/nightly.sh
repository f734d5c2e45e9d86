#!/usr/bin/env bash
# The nightly profile: ≥ 10,000 property runs, six rotations per lab suite, what QKD_NIGHTLY=1 turns on
# (longer observations), and the MODE matrix — the environmental-fault suite once more per Arnika MODE
# besides the default one the main pass ran. The HTML report is built from all of it whatever the
# outcome (a failing night is the one that most needs it); the exit code is the tests'.
set -uo pipefail
cd "$(dirname "$0")/.."
export FC_NUM_RUNS="${FC_NUM_RUNS:-10000}" QKD_E2E_ROTATIONS="${QKD_E2E_ROTATIONS:-6}" QKD_NIGHTLY=1
reports="${QKD_REPORTS_DIR:-reports}"
code=0
QKD_REPORTS_DIR="$reports" npx vitest run "$@" || code=$?
merge=()
for mode in ${QKD_NIGHTLY_MODES:-QkdAndPqcRequired AtLeastPqcRequired EitherQkdOrPqcRequired}; do
  QKD_E2E_MODE="$mode" QKD_REPORTS_DIR="$reports/mode-$mode" npx vitest run --project lab suites/e2e/environment.test.ts || code=1
  merge+=("$reports/mode-$mode")
done
node bin/qkd-harness.js report --reports "$reports" ${merge[@]:+--merge "${merge[@]}"} || echo "nightly: the report could not be built (tests exited $code)" >&2
exit "$code"
