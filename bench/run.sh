#!/usr/bin/env bash
# Side-by-side benchmark: direct vs Portcullis vs Squid vs tinyproxy (vs mitmproxy if installable).
# Installs the missing Debian tools, builds Portcullis if needed, then runs bench/bench.ts.
# Every argument is passed to the driver: `npm run bench -- --quick`, `--runs 5`, `--duration 20`.
# Set BENCH_SKIP_INSTALL=1 to use whatever is already installed.
set -uo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bench] %s\n' "$*" >&2; }

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    timeout 300 apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed (continuing)"
    apt_updated=1
  fi
}

# install_one PKG...: installs the first package of the list that works; returns 1 if none did.
install_one() {
  local p
  for p in "$@"; do
    if have_pkg "$p"; then return 0; fi
  done
  apt_update_once
  for p in "$@"; do
    log "apt-get install $p"
    if DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1; then
      return 0
    fi
    log "could not install $p"
  done
  return 1
}

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "not root or no apt-get: skipping installs, using what is on PATH"
elif [ "${BENCH_SKIP_INSTALL:-0}" != 1 ]; then
  install_one curl || true
  install_one wrk || log "wrk unavailable: S1 rows will be n/a"
  install_one nginx-light nginx || log "nginx unavailable: the benchmark needs it as the origin"
  install_one squid-openssl squid || log "squid unavailable: its rows will be n/a"
  install_one tinyproxy || log "tinyproxy unavailable: its rows will be n/a"
  install_one mitmproxy || log "mitmproxy unavailable: its rows will be n/a (optional)"
  # Debian starts the packaged daemons on install; the benchmark runs its own instances on
  # random loopback ports, so the system services are left alone (never stopped here).
fi

if [ ! -f dist/cli/main.js ]; then
  log "dist/ missing: npm run build"
  npm run build --silent || { log "build failed"; exit 1; }
fi

# S7 at 10,000 idle tunnels needs ~20,000 descriptors in the proxy and 10,000 in nginx and the
# load generator: raise this shell's limit (root may raise the hard limit too) before they start.
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

exec node --import tsx bench/bench.ts "$@"
