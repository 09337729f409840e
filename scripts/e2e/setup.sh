#!/usr/bin/env bash
# Installs what the end-to-end tests need, idempotently (a fast no-op when everything is there):
#   - Debian's Chromium (driven by playwright-core) and libkrb5-dev (code-server's `kerberos`
#     module builds from source);
#   - code-server 4.100.3 (a full VS Code 1.100.3 for Node 20) into .cache/code-server, outside the
#     project's own dependency tree. `@vscode/ripgrep` would download `rg` from GitHub in its
#     postinstall; its cache is seeded with Debian's ripgrep binary first, so only the npm registry
#     and Debian's mirrors are needed.
# See ../shared/guides/vscode-e2e.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
CS_VERSION=4.100.3
CS_DIR="$root/.cache/code-server"
CS_BIN="$CS_DIR/node_modules/code-server/out/node/entry.js"

log() { printf '[e2e-setup] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

apt_updated=0
apt_install() {
  # Wait for another apt/dpkg to finish rather than racing it.
  local tries=0
  while pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null || pgrep -x apt >/dev/null; do
    [ $tries = 0 ] && log "waiting for a running apt-get/dpkg to finish"
    tries=$((tries + 1)); sleep 5
    [ $tries -gt 240 ] && { log "apt still busy after 20 minutes"; return 1; }
  done
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@"
}

cs_installed() {
  [ -f "$CS_BIN" ] && grep -q "\"version\": \"$CS_VERSION\"" "$CS_DIR/node_modules/code-server/package.json" 2>/dev/null
}

want=()
[ -x /usr/bin/chromium ] || want+=(chromium)
# krb5 headers are only needed to build code-server.
cs_installed || dpkg -s libkrb5-dev >/dev/null 2>&1 || want+=(libkrb5-dev)
if [ ${#want[@]} -gt 0 ]; then log "installing ${want[*]}"; apt_install "${want[@]}"; fi

cs_installed && exit 0

log "installing code-server@$CS_VERSION into .cache/code-server (about a minute)"
mkdir -p "$CS_DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Seed @vscode/ripgrep's download cache with Debian's rg.
rg_cache="$tmp/vscode-ripgrep-cache-1.15.11"
mkdir -p "$rg_cache"
mkdir -p "$tmp/x"
if command -v rg >/dev/null; then
  cp "$(command -v rg)" "$tmp/x/rg"
else
  (cd "$tmp" && apt-get download ripgrep >/dev/null 2>&1) || { apt_install ripgrep >/dev/null; }
  if ls "$tmp"/ripgrep_*.deb >/dev/null 2>&1; then
    dpkg-deb -x "$tmp"/ripgrep_*.deb "$tmp/deb"; cp "$tmp/deb/usr/bin/rg" "$tmp/x/rg"
  elif command -v rg >/dev/null; then
    cp "$(command -v rg)" "$tmp/x/rg"
  else
    log "could not get a ripgrep binary from Debian"; exit 1
  fi
fi
for v in v13.0.0-10 v13.0.0-13; do
  tar czf "$rg_cache/ripgrep-$v-x86_64-unknown-linux-musl.tar.gz" -C "$tmp/x" rg
done
[ -f "$CS_DIR/package.json" ] || echo '{"name":"ldlens-e2e-code-server","private":true}' >"$CS_DIR/package.json"
(
  cd "$CS_DIR"
  TMPDIR="$tmp" npm_config_unsafe_perm=true npm_config_yes=true \
    $(command -v flock >/dev/null && echo flock /tmp/npm.lock) npm install --no-audit --no-fund "code-server@$CS_VERSION" >"$tmp/npm.log" 2>&1 || {
      tail -40 "$tmp/npm.log"; exit 1; }
)
[ -f "$CS_BIN" ] || { log "code-server did not install ($CS_BIN missing)"; exit 1; }
log "code-server $CS_VERSION installed"
