#!/bin/sh
# An "external" key-control command for `qkd-harness lab up --key-control exec:mocks/keyctl/wrapper.sh`:
# it receives exactly the environment a real Arnika would (docs/lab.md) and execs the built-in agent.
# Replace the exec line with e.g. `exec /usr/local/bin/arnika` to run a real Arnika 1.x on a site.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${LISTEN_ADDRESS:?}" "${SERVER_ADDRESS:?}" "${KMS_URL:?}" "${WIREGUARD_INTERFACE:?}" "${WIREGUARD_PEER_PUBLIC_KEY:?}"
# entry.js runs the compiled agent when the build is current, else the TypeScript through tsx.
exec node "$here/../../src/util/entry.js" mocks/keyctl/main.ts
