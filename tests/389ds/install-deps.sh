#!/usr/bin/env bash
# Make sure 389 Directory Server (Red Hat's / Fedora's LDAP server) is installed and can create
# instances on a machine without systemd.
#
# Usage: install-deps.sh        (as root, or with passwordless sudo, when something is missing)
#
# A no-op on a machine that has it already; on a fresh Debian machine (CI) it installs Debian's
# 389-ds-base (the server ns-slapd and the lib389 tools dscreate, dsctl, dsconf, dsidm) with
# apt-get. The OpenLDAP client tools and openssl that the tests talk to it with come from
# tests/slapd/install-deps.sh.
set -euo pipefail

# The 389 tools live in /usr/sbin, which is not on every PATH.
export PATH="$PATH:/usr/sbin:/sbin"

DEFAULTS=/usr/share/dirsrv/inf/defaults.inf

have() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || return 1
    done
}

if [[ $EUID -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    sudo=(false)
fi
need_root() {
    if [[ "${sudo[*]}" == false ]]; then
        echo "install-deps: $1; run as root" >&2
        exit 1
    fi
}

if ! have dscreate dsctl dsconf dsidm ns-slapd; then
    need_root "389-ds-base is missing (apt-get install --no-install-recommends 389-ds-base)"
    command -v apt-get >/dev/null ||
        { echo "install-deps: 389-ds-base is missing and there is no apt-get" >&2; exit 1; }
    echo "install-deps: installing 389-ds-base" >&2
    # Through env: sudo would drop an exported DEBIAN_FRONTEND, and then debconf asks questions.
    # The package creates no instance of its own (dscreate does that), so nothing starts here.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends 389-ds-base >/dev/null
    echo "install-deps: done" >&2
fi

# Debian builds 389-DS for systemd: defaults.inf says with_systemd = 1, and then dscreate and
# dsctl start and stop instances with `systemctl start dirsrv@NAME`. Containers and CI machines
# have no systemd as PID 1, so every start would fail. With 0, lib389 runs ns-slapd itself (it
# daemonizes and writes /run/dirsrv/slapd-NAME.pid), and so does start-389ds.sh; it is set even
# where systemd runs, because `dsctl NAME remove` must stop the server the same way it was
# started. The file holds build facts, not user settings, and an upgrade of the package puts
# the 1 back: hence checked on every run.
[[ -f "$DEFAULTS" ]] || { echo "install-deps: $DEFAULTS not found" >&2; exit 1; }
if ! grep -qE '^with_systemd[[:space:]]*=[[:space:]]*0[[:space:]]*$' "$DEFAULTS"; then
    need_root "$DEFAULTS must say with_systemd = 0 (no systemd on this machine)"
    if grep -qE '^with_systemd[[:space:]]*=' "$DEFAULTS"; then
        "${sudo[@]}" sed -i -E 's/^with_systemd[[:space:]]*=.*/with_systemd = 0/' "$DEFAULTS"
    else
        "${sudo[@]}" sed -i -E 's/^\[slapd\][[:space:]]*$/&\nwith_systemd = 0/' "$DEFAULTS"
    fi
    grep -qE '^with_systemd = 0$' "$DEFAULTS" ||
        { echo "install-deps: could not set with_systemd = 0 in $DEFAULTS" >&2; exit 1; }
    echo "install-deps: set with_systemd = 0 in $DEFAULTS (no systemd here)" >&2
fi
