#!/usr/bin/env bash
# The main job on a built-in default: install what is missing, build, then train a tiny
# LearnedDropout model on the generated demo corpus and print what it learned.
# Extra arguments go to `ldlens demo` (e.g. --steps 500 --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
node scripts/build.mjs engine
exec node dist/engine/cli.js demo "$@"
