#!/usr/bin/env bash
# The whole test suite, set-up included: `npm test` (also what .ci/run calls).
# Installs the project's dependencies when they are missing or stale, type-checks, bundles, then
# runs the unit, parity, learning and integration tests with node's test runner, and the
# end-to-end tests in a real VS Code (code-server + Chromium; installed by scripts/e2e/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  echo "== npm install"
  npm install --no-audit --no-fund
fi

# The PyTorch reference (Debian's python3-torch) checks `ldlens eval` against `ld_gpt.py loss`;
# those checks are skipped, with a message, where it cannot be installed.
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "== installing python3-torch (the PyTorch reference)"
  (apt-get update -q && apt-get install -y -q python3-torch libopenblas0-pthread) >/dev/null 2>&1 ||
    echo "python3-torch could not be installed: comparisons with the reference will be skipped"
fi

# The engine's native CPU kernels: a C compiler to build them, OpenBLAS for their matrix products.
if { ! command -v cc >/dev/null || ! ls /usr/lib/x86_64-linux-gnu/libopenblas.so.0 >/dev/null 2>&1; } &&
  command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "== installing gcc and OpenBLAS (the engine's native kernels)"
  (apt-get update -q && apt-get install -y -q gcc libc6-dev libopenblas0-pthread) >/dev/null 2>&1 ||
    echo "gcc/OpenBLAS could not be installed: the native-kernel tests will fail"
fi

echo "== typecheck"
npm run --silent typecheck

echo "== build"
LDLENS_NATIVE_STRICT=1 npm run --silent build

echo "== unit, parity, engine and integration tests"
# --test-force-exit: a test file whose tests are all done exits even if a handle leaked (the
# supervisor tests once stayed alive for 30 minutes after passing on a loaded machine).
node --import tsx --test --test-force-exit --test-concurrency=1 --test-reporter=spec $(ls engine/test/*.test.ts extension/test/unit/*.test.ts webview/test/*.test.ts 2>/dev/null)

echo "== the wasm kernels without the native ones (LDLENS_NATIVE=0): parity and matrix products"
LDLENS_NATIVE=0 node --import tsx --test --test-force-exit --test-reporter=spec engine/test/parity.test.ts engine/test/native.test.ts engine/test/optimInPlace.test.ts engine/test/crossEntropy.test.ts

if [ -x scripts/e2e/run.sh ] && [ "${LDLENS_SKIP_E2E:-}" != 1 ]; then
  echo "== end-to-end tests in a real VS Code"
  bash scripts/e2e/run.sh
fi
