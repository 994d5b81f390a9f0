#!/usr/bin/env bash
# Installs what shardline needs on a Debian machine: Debian packages and a venv in .venv. Idempotent and quick
# when everything is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pkgs=(mariadb-server mariadb-client mariadb-backup libmariadb-dev pkg-config sysbench etcd-server etcd-client)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
venv="$root/.venv"
stamp="$venv/.installed-$(sha1sum "$root/pyproject.toml" | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "preparing the Python environment in .venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >/dev/null
  "$venv/bin/pip" install -q -e "$root[test]"
  rm -f "$venv"/.installed-*; touch "$stamp"
fi
