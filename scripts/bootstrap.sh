#!/usr/bin/env bash
# Installs what shardline needs on a Debian machine: Debian packages, a venv in .venv and the gate's compiled
# modules (scripts/build_native.py). Idempotent and quick when everything is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pkgs=(mariadb-server mariadb-client mariadb-backup libmariadb-dev pkg-config gcc sysbench tcpdump socat etcd-server etcd-client)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# Debian's own python3 needs python3-venv for the venv and python3-dev to build mysqlclient.
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
python3 -c 'import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || missing+=(python3-dev)
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
  "$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1
  "$venv/bin/pip" install -q --disable-pip-version-check -e "$root[test,build]" 2> >(grep -v "^WARNING: Location" >&2)
  rm -f "$venv"/.installed-*; touch "$stamp"
fi
"$venv/bin/python" "$root/scripts/build_native.py"
