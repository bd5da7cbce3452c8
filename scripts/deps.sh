#!/usr/bin/env bash
# Installs the Debian packages li707 needs to build, test, fuzz and benchmark, when they are
# missing. As root it runs apt-get; otherwise it prints the exact command and fails.
# Usage: scripts/deps.sh [build|all]   (build: compiler and libraries only)
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config libxml2-dev libssl-dev libjansson-dev libcmocka-dev
            libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libsqlite3-dev liblz4-dev)
test_pkgs=(libxml2-utils openssl clang libclang-rt-14-dev time curl gnutls-bin nginx wrk sqlite3 python3 jq prometheus)
case "${1:-all}" in
  build) want=("${build_pkgs[@]}") ;;
  all) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 [build|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "li707: missing Debian packages. Run as root:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
echo "li707: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd -qq
