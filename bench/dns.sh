#!/usr/bin/env bash
# DNS listener benchmark (bench/dns-bench.ts): Portcullis's DNS listener against dnsmasq, with
# dnsperf as the load generator, all from Debian. Installs what is missing (as root), builds
# Portcullis if needed, then runs the driver; arguments go to it: `bash bench/dns.sh --duration 5`.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v dnsperf >/dev/null 2>&1 || missing+=(dnsperf)
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
command -v dig >/dev/null 2>&1 || missing+=(dnsutils)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[dns-bench] installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
      || { timeout 300 apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  else
    echo "[dns-bench] missing ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi
if [ ! -f dist/cli/main.js ]; then
  npm run build --silent || exit 1
fi
PATH="$PATH:/usr/sbin" exec node --import tsx bench/dns-bench.ts "$@"
