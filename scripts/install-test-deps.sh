#!/usr/bin/env bash
# Installs the real clients the test suite drives (curl, openssl, Python requests, Chromium and
# NSS's certutil for the browser test, iproute2/iptables/nftables for the transparent-mode test,
# kubectl for the Kubernetes manifests, HAProxy for the fleet test, binutils for objdump,
# testssl.sh for the TLS server settings test, dig for the DNS listener),
# from Debian's packages, only when they are missing.
# Safe to run again.
set -euo pipefail

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if ! { python3 -c 'import requests' 2>/dev/null || /usr/bin/python3 -c 'import requests' 2>/dev/null; }; then
  missing+=(python3 python3-requests)
fi
# test/e2e/browser-intercept.test.ts drives Debian's Chromium (never a browser Playwright downloads)
# and trusts the proxy CA through an NSS db made with certutil.
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)
# test/e2e/transparent-netns.test.ts builds network namespaces (ip) and applies the printed
# firewall rules (iptables/ip6tables, and nft for the same-host case).
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing+=(iptables)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
# test/e2e/kubernetes-manifests.test.ts renders deploy/kubernetes with `kubectl kustomize`
# (any kubectl from 1.14 on; Debian's is kubernetes-client).
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
# test/e2e/fleet.test.ts puts three replicas behind HAProxy in TCP mode; objdump (binutils)
# reads the glibc the single executable needs (test/e2e/single-executable.test.ts).
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v objdump >/dev/null 2>&1 || missing+=(binutils)
# test/security/tls-server-settings.test.ts scans a TLS listener with testssl.sh (Debian names
# the command testssl).
command -v testssl >/dev/null 2>&1 || command -v testssl.sh >/dev/null 2>&1 || missing+=(testssl.sh)
# test/e2e/parent-squid.test.ts chains Portcullis to Squid (with its basic_ncsa_auth helper) as a parent proxy.
command -v squid >/dev/null 2>&1 || [ -x /usr/sbin/squid ] || missing+=(squid)
# test/e2e/dns-listener.test.ts and test/e2e/side-channels-netns.test.ts query the DNS listener
# with dig (BIND's dnsutils).
command -v dig >/dev/null 2>&1 || missing+=(dnsutils)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]}); tests that need them will skip" >&2
  exit 0
fi
echo "install-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates "${missing[@]}" >/dev/null
