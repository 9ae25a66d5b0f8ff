#!/usr/bin/env bash
# Make sure what the Active Directory tests need is installed: Samba as an AD domain controller,
# plus the OpenLDAP client tools and openssl that talk to it.
#
# Usage: install-deps.sh        (as root, or with passwordless sudo, when something is missing)
#
# A no-op on a machine that has them already; on a fresh Debian machine (CI) it installs them
# with apt-get (about 10 s). Debian's samba packages enable and try to start the system's smbd,
# nmbd, samba-ad-dc and winbind services; the tests start their own DCs (tests/samba/
# start-samba.sh), so this keeps the system's services from starting and disables them.
set -euo pipefail

# samba lives in /usr/sbin, which is not on every PATH.
export PATH="$PATH:/usr/sbin:/sbin"

# Debian splits a DC over several packages, and apt's default (recommends) would bring them, but
# with --no-install-recommends each must be named: samba-ad-provision has the provisioning
# LDIF and schema, samba-dsdb-modules the directory database, samba-vfs-modules the acl_xattr
# module that provisioning needs for sysvol (without it: "Error loading module acl_xattr").
# winbind is not needed: the test DCs run only the LDAP service.
packages=(samba samba-ad-provision samba-dsdb-modules samba-vfs-modules)

have() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || return 1
    done
}
installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}
missing=()
if command -v dpkg-query >/dev/null; then
    for package in "${packages[@]}"; do
        installed "$package" || missing+=("$package")
    done
else
    have samba samba-tool || missing+=("${packages[@]}")
fi
have ldapsearch ldapadd ldapmodify ldapdelete || missing+=(ldap-utils)
have openssl || missing+=(openssl)
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $EUID -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "install-deps: missing ${missing[*]}; run as root, or:" \
        "apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
command -v apt-get >/dev/null ||
    { echo "install-deps: missing ${missing[*]} and no apt-get to install them" >&2; exit 1; }

echo "install-deps: installing ${missing[*]}" >&2
# The postinst scripts start smbd, nmbd and winbind through invoke-rc.d, which asks
# /usr/sbin/policy-rc.d first: exit 101 means "don't". Containers often have one already (and
# without one and without an init system invoke-rc.d blocks starts anyway); where there is none,
# put one in place for the duration of the install and remove it afterwards. An existing one is
# never touched.
POLICY=/usr/sbin/policy-rc.d
placed_policy=0
remove_policy() {
    if [[ $placed_policy -eq 1 ]]; then
        "${sudo[@]}" rm -f "$POLICY"
    fi
}
trap remove_policy EXIT
if [[ ! -e "$POLICY" ]]; then
    printf '#!/bin/sh\n# Placed by hrsync tests/samba/install-deps.sh during apt-get install.\nexit 101\n' |
        "${sudo[@]}" tee "$POLICY" >/dev/null
    "${sudo[@]}" chmod 755 "$POLICY"
    placed_policy=1
fi

# Through env: sudo would drop an exported DEBIAN_FRONTEND, and then debconf asks questions.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Whatever got enabled or started anyway (an existing policy-rc.d that allows starts, or a
# machine booted with systemd, where the units are enabled for the next boot): the system's
# samba would hold 389/636/445 on every address, and no test DC could bind 127.0.0.N:389.
services=(samba-ad-dc smbd nmbd winbind)
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    for service in "${services[@]}"; do
        "${sudo[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
        "${sudo[@]}" systemctl mask "$service" >/dev/null 2>&1 || true
    done
else
    for service in "${services[@]}"; do
        if [[ -x "/etc/init.d/$service" ]]; then
            "${sudo[@]}" "/etc/init.d/$service" stop >/dev/null 2>&1 || true
            if command -v update-rc.d >/dev/null; then
                "${sudo[@]}" update-rc.d "$service" disable >/dev/null 2>&1 || true
            fi
        fi
    done
fi
echo "install-deps: done" >&2
