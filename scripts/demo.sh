#!/usr/bin/env bash
# `npm run demo`: installs what is missing, builds everything, writes a demo workspace
# (.ldlens-demo/: the built-in demo corpus, a short probe text, a README with the next steps) and
# opens the extension on it in a real VS Code:
#   - the desktop `code` when it is on PATH (the extension in development mode);
#   - otherwise the VS Code server the end-to-end tests use (code-server 4.100.3, installed into
#     .cache/ by scripts/e2e/setup.sh), with the packaged extension (VSIX) installed, on
#     http://127.0.0.1:PORT; it prints the URL to open and runs until Ctrl-C.
# `npm run demo:cli` (scripts/demo.sh --cli [--steps N] [--out DIR]) is the terminal-only demo:
# it trains a tiny model on the demo corpus and prints what it learned.
# Environment: LDLENS_DEMO_SERVER=1 uses the server even when `code` is on PATH;
# LDLENS_DEMO_PORT (default: 3717, or the next free port); LDLENS_DEMO_WORKSPACE (default .ldlens-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log() { printf '[demo] %s\n' "$*"; }

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  log "npm install"
  npm install --no-audit --no-fund
fi

if [ "${1:-}" = --cli ]; then
  shift
  node scripts/build.mjs engine
  exec node dist/engine/cli.js demo "$@"
fi

log "building the engine, the extension and the webviews"
node scripts/build.mjs

# ---- the demo workspace
ws=${LDLENS_DEMO_WORKSPACE:-$root/.ldlens-demo}
mkdir -p "$ws/.vscode"
ws=$(cd "$ws" && pwd)
node dist/engine/cli.js demo-corpus --out "$ws/demo-corpus.md" --probe "$ws/probe.txt" 2>/dev/null
[ -f "$ws/.vscode/settings.json" ] || cat >"$ws/.vscode/settings.json" <<'EOF'
{
  // A short run for the demo (the tiny preset alone trains 500 steps): 300 steps, a checkpoint
  // every 50 for the Mask Explorer's checkpoint scrubber.
  "ldlens.training.overrides": { "train": { "steps": 300, "checkpointInterval": 50, "evalInterval": 25 } }
}
EOF
cat >"$ws/README.md" <<'EOF'
# LearnedDropout Lens demo

This folder was written by `npm run demo`. `demo-corpus.md` is the built-in demo corpus (generated:
prose, arithmetic, code-like lines and log lines); `probe.txt` holds one line of each kind.

1. Open `demo-corpus.md` and run **LearnedDropout: Train Model** (F1) → *Active file* → `tiny` →
   Enter. The status bar shows the progress; the run is stored in `.ldlens/runs/`.
2. **LearnedDropout: Open Run Charts** to watch the loss and the masks while it trains.
3. Open `probe.txt` and run **LearnedDropout: Analyze Document**: each token is painted by how
   many units its learned masks keep.
4. Hover a token, then **Open in Mask Explorer** from the hover.

The walkthrough *Get Started with Learned Dropout* (Help → Welcome, or F1 → "Welcome: Open
Walkthrough…") takes the same steps with buttons.
EOF
log "demo workspace: $ws"

# ---- the desktop VS Code
if command -v code >/dev/null 2>&1 && [ "${LDLENS_DEMO_SERVER:-}" != 1 ]; then
  log "opening VS Code: code --extensionDevelopmentPath=$root $ws"
  exec code --extensionDevelopmentPath="$root" "$ws" "$ws/README.md" "$ws/demo-corpus.md"
fi

# ---- otherwise the VS Code server
log "no \`code\` on PATH: using the VS Code server (code-server) that the end-to-end tests use"
bash scripts/e2e/setup.sh
CODE_SERVER="$root/.cache/code-server/node_modules/.bin/code-server"

log "packaging the extension"
bash scripts/package.sh --skip-build --out "$root/.cache/demo-vscode/ldlens.vsix" >/dev/null

state="$root/.cache/demo-vscode"
home="$state/home"
mkdir -p "$home/.config" "$home/.local/share" "$home/.cache" "$state/user-data/User" "$state/extensions"
export HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" XDG_CACHE_HOME="$home/.cache"
unset VSCODE_CLI VSCODE_IPC_HOOK_CLI
: >"$state/code-server.yaml"
settings="$state/user-data/User/settings.json"
[ -f "$settings" ] || cat >"$settings" <<'EOF'
{
  "workbench.startupEditor": "readme",
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "git.openRepositoryInParentFolders": "never"
}
EOF
"$CODE_SERVER" --extensions-dir "$state/extensions" --user-data-dir "$state/user-data" --config "$state/code-server.yaml" \
  --install-extension "$state/ldlens.vsix" --force >"$state/install.log" 2>&1 || { cat "$state/install.log"; exit 1; }

port=${LDLENS_DEMO_PORT:-}
if [ -z "$port" ]; then
  port=$(node -e '
    const net = require("net");
    const tryPort = (p) => { const s = net.createServer(); s.once("error", () => tryPort(p === 3717 ? 0 : p + 1));
      s.listen(p, "127.0.0.1", () => { const q = s.address().port; s.close(() => console.log(q)); }); };
    tryPort(3717);')
fi

url="http://127.0.0.1:$port/?folder=$(node -p 'encodeURIComponent(process.argv[1])' "$ws")"
setsid "$CODE_SERVER" --bind-addr "127.0.0.1:$port" --auth none --disable-telemetry --disable-update-check \
  --disable-workspace-trust --disable-getting-started-override --ignore-last-opened --config "$state/code-server.yaml" \
  --user-data-dir "$state/user-data" --extensions-dir "$state/extensions" "$ws" >"$state/server.log" 2>&1 &
server=$!
# code-server runs in its own process group (setsid): stopping the demo stops all of it.
stop() {
  trap - INT TERM EXIT
  kill -TERM -- "-$server" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$server" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$server" 2>/dev/null || true
}
trap 'echo; log "stopping the server"; stop; exit 0' INT TERM
trap stop EXIT
healthy() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$port/healthz"; }
for _ in $(seq 1 120); do
  healthy && break
  kill -0 $server 2>/dev/null || { cat "$state/server.log"; log "code-server exited"; exit 1; }
  sleep 0.5
done
healthy || { cat "$state/server.log"; log "code-server did not answer on port $port"; exit 1; }
cat <<EOF

  LearnedDropout Lens is running in VS Code (code-server) on the demo workspace.
  Open this URL in a browser on this machine:

    $url

  (from another machine: ssh -L $port:127.0.0.1:$port <this host>, then open the same URL)
  The walkthrough: Help → Welcome → "Get Started with Learned Dropout".
  Ctrl-C stops the server. Server log: $state/server.log

EOF
wait $server || true
log "the server stopped"
