#!/usr/bin/env bash
# Validate the MCP Bundle manifest and pack manifests/mcpb/ into OUT_DIR/smsai-mcp-<version>.mcpb (default dist/).
# Needs the node tools: scripts/install-node-tools.sh (SMSAI_TOOLS_DIR, default .tools/).
# The bundle's version must be the package's: a bundle pins the release it starts.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${SMSAI_TOOLS_DIR:-.tools}"
out="${1:-dist}"
bin="$(cd "$tools/node_modules/.bin" 2>/dev/null && pwd)" || {
    echo "build-mcpb: $tools/node_modules/.bin is missing; run scripts/install-node-tools.sh first" >&2
    exit 1
}
export PATH="$bin:$PATH"   # node 22 and mcpb from the project-local install

package_version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' smsai_mcp/__init__.py)"
bundle_version="$(node -p 'require("./manifests/mcpb/manifest.json").version')"
if [[ -z "$package_version" || "$package_version" != "$bundle_version" ]]; then
    echo "build-mcpb: manifests/mcpb/manifest.json has version $bundle_version, the package $package_version" >&2
    exit 1
fi

mcpb validate manifests/mcpb/manifest.json
mkdir -p "$out"
bundle="$out/smsai-mcp-$package_version.mcpb"
mcpb pack manifests/mcpb "$bundle"
echo "built $bundle"
