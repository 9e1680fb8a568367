#!/usr/bin/env bash
# Run the MCP conformance suite (@modelcontextprotocol/conformance, 0.2.0-alpha line) against the HTTP
# server on the embedded sandbox, for both protocol revisions, each against its committed baseline in
# conformance/. Loopback only; the server stops when the script ends. Exit 0 only if both pass, that is when
# every failure is in a baseline (or in a scenario the revision does not score) and no baseline entry passes.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${SMSAI_TOOLS_DIR:-.tools}"
scripts/install-node-tools.sh "$tools" >/dev/null
node="$tools/node_modules/.bin/node"
suite="$tools/node_modules/@modelcontextprotocol/conformance/dist/index.js"

work=$(mktemp -d)
port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SMSAI_STATE_DIR="$work/state" python -m smsai_mcp --transport http --port "$port" --sandbox 2>"$work/server.log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

for _ in $(seq 100); do
    if python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then
        break
    fi
    sleep 0.2
done

status=0
for revision in 2025-11-25 2026-07-28; do
    baseline="conformance/expected-failures.$revision.yml"
    result=0
    "$node" "$suite" server --url "http://127.0.0.1:$port/mcp" --requirements "$revision" \
        --expected-failures "$baseline" >"$work/$revision.txt" 2>&1 || result=$?
    if [[ "$result" != 0 ]]; then
        status=1
        cat "$work/$revision.txt"
    fi
    # The suite's "N failed" counts the expected fixtures too; one line says which failures are which.
    python scripts/conformance_summary.py "$revision" "$baseline" "$work/$revision.txt" "$result" || true
done
exit "$status"
