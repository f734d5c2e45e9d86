#!/usr/bin/env bash
# Runs the whole test suite (`vitest run`, what `npm test` runs) with artificial CPU load beside it:
# LOAD_WORKERS busy loops (default 2: a loaded 2-core CI machine). A test that passes alone but fails
# here asserts wall-clock timing too tightly: give it an injected clock or a bound that holds under load.
#
#   scripts/test-under-load.sh [vitest arguments…]     e.g. a file: scripts/test-under-load.sh mocks/keyctl
#   npm run test:load [-- vitest arguments…]
#
# As root with QKD_REQUIRE_LAB=1 the lab suites run too (as in CI). The loops stop when the run ends,
# on Ctrl-C or SIGTERM, and on their own within seconds if this script is killed outright.
set -euo pipefail
cd "$(dirname "$0")/.."

workers=${LOAD_WORKERS:-2}
[[ $workers =~ ^[0-9]+$ ]] || { echo "test-under-load: LOAD_WORKERS must be a number, got '$workers'" >&2; exit 2; }

pids=()
vitest_pid=''
stop_load() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
# Ctrl-C or SIGTERM: stop vitest and its workers (their own process group), then the EXIT trap stops the loops.
on_signal() {
  if [[ -n $vitest_pid ]]; then
    kill -TERM -- "-$vitest_pid" 2>/dev/null || true
    wait "$vitest_pid" 2>/dev/null || true
  fi
  exit "$1"
}
trap stop_load EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

parent=$$
for ((i = 0; i < workers; i++)); do
  # Pure shell arithmetic keeps one core busy; checking the parent now and then ends an orphaned loop.
  ( while kill -0 "$parent" 2>/dev/null; do for ((j = 0; j < 50000; j++)); do :; done; done ) &
  pids+=("$!")
done
echo "test-under-load: $workers busy loops (pids ${pids[*]}) beside vitest" >&2

# In the background so that a signal interrupts `wait` at once (a foreground child would delay the trap);
# with job control on, vitest gets a process group of its own (and keeps Ctrl-C, unlike a plain `&` job).
set -m
node_modules/.bin/vitest run "$@" &
vitest_pid=$!
set +m
wait "$vitest_pid"
