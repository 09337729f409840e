#!/usr/bin/env bash
# `npm run package`: builds everything and packs the extension into dist/ldlens-<version>.vsix with
# @vscode/vsce (3.9.x: runs on Node 20). The VSIX holds only what runs (see .vscodeignore): the
# bundled extension, engine (with its three .wasm binaries) and webviews, media/, README,
# CHANGELOG, LICENSE and package.json; no node_modules (everything is bundled by esbuild).
# Prints the VSIX's file list and size. Install it with
#   code --install-extension dist/ldlens-<version>.vsix
# Options: --skip-build (pack what dist/ holds), --out FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

skip_build=0
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-build) skip_build=1 ;;
    --out) out="$2"; shift ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  echo "== npm install"
  npm install --no-audit --no-fund
fi

version=$(node -p 'require("./package.json").version')
out=${out:-dist/ldlens-$version.vsix}

if [ $skip_build = 0 ]; then
  echo "== build"
  # A clean dist/ (old bundles and a previous VSIX must not end up in the package).
  rm -rf dist/engine dist/extension dist/webview
  node scripts/build.mjs
fi
for f in dist/engine/cli.js dist/engine/tfjs-backend-wasm.wasm dist/engine/tfjs-backend-wasm-simd.wasm \
  dist/engine/tfjs-backend-wasm-threaded-simd.wasm dist/extension/extension.js \
  dist/webview/explorer.js dist/webview/explorer.css dist/webview/charts.js dist/webview/charts.css \
  dist/engine/torch/ldtorch/train.py; do
  [ -f "$f" ] || { echo "package.sh: $f is missing (run without --skip-build)" >&2; exit 1; }
done

# The native CPU kernels are per platform (built here for this one); without them the engine runs
# its wasm kernels, slower, and says so.
native=$(ls dist/engine/ldnative-*.node 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ')
echo "== native kernels in the package: ${native:-none (no C compiler here: the VSIX will use the wasm kernels)}"

echo "== vsce package → $out"
mkdir -p "$(dirname "$out")"
rm -f "$out"
# --no-dependencies: every runtime dependency is bundled into dist/ by esbuild.
node_modules/.bin/vsce package --no-dependencies --out "$out"

echo "== contents"
node_modules/.bin/vsce ls --no-dependencies | sort
bytes=$(stat -c %s "$out")
echo "== $out: $(awk -v b="$bytes" 'BEGIN { printf "%.2f MB", b / 1048576 }') ($bytes bytes), $(unzip -Z1 "$out" 2>/dev/null | grep -c '^extension/' || echo '?') files under extension/"
