#!/usr/bin/env bash
# Installs what is missing to run and test Orthanc Reshape on Debian 12 or 13 (as root):
# the Debian packages orthanc + orthanc-python, and .venv made with the Python that
# orthanc-python embeds (/usr/bin/python3), holding the pinned Python dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
# RESHAPE_POSTGRESQL=1 (make test) also installs PostgreSQL and Orthanc's PostgreSQL index plugin, for the
# two-node test (tests/integration/test_postgresql_nodes.py, which is skipped, saying why, without them).
optional_pkgs=()
[ "${RESHAPE_POSTGRESQL:-0}" = 1 ] && optional_pkgs=(postgresql orthanc-postgresql)
# Whole outputs, not pipes into `grep -q`: with pipefail, grep quitting at its first match kills the writer
# with SIGPIPE, and the test fails even though it matched.
installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]; }
available() { [[ "$(apt-cache policy "$1" 2>/dev/null)" =~ Candidate:\ [0-9] ]]; }
for p in orthanc orthanc-python python3-venv; do
  installed "$p" || need_pkgs+=("$p")
done
missing_optional=()
for p in "${optional_pkgs[@]}"; do
  installed "$p" || missing_optional+=("$p")
done
optional_found=()
if [ $(( ${#need_pkgs[@]} + ${#missing_optional[@]} )) -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get update -qq; then
    if [ ${#need_pkgs[@]} -gt 0 ]; then echo "setup: apt-get update failed"; exit 1; fi
    echo "setup: apt-get update failed; looking for ${missing_optional[*]} in the package lists already here"
  fi
  # An optional package this Debian release does not have is left out (its test says it is skipped).
  for p in "${missing_optional[@]}"; do
    if available "$p"; then optional_found+=("$p"); else echo "setup: $p is not available here; its tests will be skipped"; fi
  done
fi

# apt-get install, never letting a package start the system-wide Orthanc service.
install_pkgs() {
  echo "setup: installing Debian packages: $*"
  local policy=/usr/sbin/policy-rc.d created=0 status=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=1; fi
  apt-get install -y -qq "$@" || status=$?
  if [ "$created" = 1 ]; then rm -f "$policy"; fi
  return "$status"
}
if [ ${#need_pkgs[@]} -gt 0 ]; then
  install_pkgs "${need_pkgs[@]}"
fi
if [ ${#optional_found[@]} -gt 0 ]; then
  install_pkgs "${optional_found[@]}" || echo "setup: could not install ${optional_found[*]}; its tests will be skipped"
fi

stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha1sum | cut -d' ' -f1)-$(/usr/bin/python3 -c 'import sys;print(sys.version.split()[0])')
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv with /usr/bin/python3"
  rm -rf .venv
  /usr/bin/python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
