#!/usr/bin/env bash
# Make sure the SCIM 2.0 server the SCIM preset is tested against is installed: scim2-server
# from PyPI (an RFC 7643/7644 service provider keeping its data in memory), in a virtual
# environment of its own.
#
# Usage: install-deps.sh        (apt-get needs root, or passwordless sudo, when python3 is missing)
#
# A no-op when the environment already has the pinned version. Otherwise: python3 and its venv
# module from apt-get where they are missing (Debian's python3 refuses a system-wide pip install),
# then `pip install scim2-server==VERSION` into the environment (a few seconds).
#
# The environment lives in ${XDG_CACHE_HOME:-$HOME/.cache}/hrsync/scim2-server, or wherever
# HRSYNC_SCIM_VENV says; the test harness (tests/support/scim.rs) looks for the server there
# first, then on PATH.
set -euo pipefail

VERSION=0.8.3
# ~ rather than $HOME: bash finds the home directory in the password database when HOME is unset.
VENV="${HRSYNC_SCIM_VENV:-${XDG_CACHE_HOME:-$(cd ~ && pwd)/.cache}/hrsync/scim2-server}"

installed_version() {
    "$VENV/bin/python" -c \
        'import importlib.metadata as m; print(m.version("scim2-server"))' 2>/dev/null || true
}
if [[ -x "$VENV/bin/scim2-server" && "$(installed_version)" == "$VERSION" ]]; then
    exit 0
fi

if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    if [[ $EUID -eq 0 ]]; then
        sudo=()
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "install-deps: python3 with its venv module is missing; run as root, or:" \
            "apt-get install python3 python3-venv" >&2
        exit 1
    fi
    command -v apt-get >/dev/null ||
        { echo "install-deps: python3 (with venv) is missing and no apt-get to install it" >&2; exit 1; }
    echo "install-deps: installing python3 python3-venv" >&2
    # Through env: sudo would drop an exported DEBIAN_FRONTEND, and then debconf asks questions.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
fi

echo "install-deps: installing scim2-server $VERSION into $VENV" >&2
mkdir -p "$(dirname "$VENV")"
# A half-made or outdated environment is made again rather than patched.
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "scim2-server==$VERSION"
[[ -x "$VENV/bin/scim2-server" ]] ||
    { echo "install-deps: pip installed scim2-server but $VENV/bin/scim2-server is missing" >&2; exit 1; }
echo "install-deps: done" >&2
