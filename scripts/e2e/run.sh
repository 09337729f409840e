#!/usr/bin/env bash
# End-to-end tests in a real VS Code: code-server 4.100.3 + Debian's Chromium, driven by
# playwright-core (extension/test/e2e). Sets up what is missing (scripts/e2e/setup.sh), builds,
# runs every scenario serially, saves screenshots under test-output/e2e/, stops everything it
# started, and prints a last line "N passed, N failed". Exit status 1 when anything failed.
# Usage: scripts/e2e/run.sh [scenario-name-substring ...]   (LDLENS_E2E_KEEP=1 keeps the temp dirs)
set -uo pipefail
cd "$(dirname "$0")/../.."

if ! bash scripts/e2e/setup.sh; then
  echo "e2e setup failed"
  echo "0 passed, 1 failed"
  exit 1
fi
if [ "${LDLENS_E2E_SKIP_BUILD:-}" != 1 ]; then
  if ! node scripts/build.mjs; then
    echo "build failed"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi
node --import tsx extension/test/e2e/run.ts "$@"
