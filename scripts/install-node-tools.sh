#!/usr/bin/env bash
# Install the Node tools the host-integration tests drive into a project-local folder (default .tools/):
#   - node 22 (the npm package `node`, a Node binary shipped through the npm registry; the Inspector needs >= 22.19)
#   - @modelcontextprotocol/inspector 2.x (the Inspector CLI: tools/list, tools/call, --strict)
#   - @anthropic-ai/mcpb (validates and packs the MCP Bundle)
#   - @modelcontextprotocol/conformance 0.2.0-alpha (the protocol's conformance suite, both revisions)
# Only the npm registry is contacted. Idempotent: a second run with the same versions installs nothing.
# Usage: scripts/install-node-tools.sh [PREFIX]      (SMSAI_TOOLS_DIR is honoured too)
set -euo pipefail
cd "$(dirname "$0")/.."

prefix="${1:-${SMSAI_TOOLS_DIR:-.tools}}"
packages=(
    "node@22.23.3"
    "@modelcontextprotocol/inspector@2.12.0"
    "@anthropic-ai/mcpb@2.1.2"
    "@modelcontextprotocol/conformance@0.2.0-alpha.12"
)

stamp="$prefix/.installed"
wanted="${packages[*]}"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" \
    && -x "$prefix/node_modules/.bin/node" \
    && -x "$prefix/node_modules/.bin/mcp-inspector" \
    && -x "$prefix/node_modules/.bin/mcpb" \
    && -x "$prefix/node_modules/.bin/conformance" ]]; then
    echo "node tools already installed in $prefix: $wanted"
    exit 0
fi

# npm fetches the tools (they then run on the Node 22 they bring); without it, say so rather than "command not found".
if ! command -v npm >/dev/null; then
    echo "install-node-tools: npm is missing; it comes with Node.js. Install it (Debian or Ubuntu:" \
        "sudo apt-get install nodejs npm; macOS: brew install node; others: https://nodejs.org/en/download)," \
        "then run this again; the tools themselves run on the Node 22 this script puts in $prefix." >&2
    exit 1
fi

mkdir -p "$prefix"
# No audit or funding requests, no update check: the only traffic is package downloads from the registry.
npm install --prefix "$prefix" --no-audit --no-fund --no-update-notifier --loglevel=error --save-exact "${packages[@]}"

# The npm `node` package puts its binary in node_modules/.bin; the tools are run with it explicitly.
"$prefix/node_modules/.bin/node" --version
printf '%s' "$wanted" >"$stamp"
echo "node tools installed in $prefix: $wanted"
