#!/usr/bin/env bash
# Make sure the OpenLDAP server and client tools that the tests and the demo run are installed.
#
# Usage: install-deps.sh        (as root, or with passwordless sudo, when something is missing)
#
# A no-op on a machine that has them already; on a fresh Debian/Ubuntu machine (CI) it installs
# slapd, ldap-utils, openssl, xmlsec1 and time with apt-get (about 10 s).
set -euo pipefail

# slapd and slapadd live in /usr/sbin, which is not on every PATH.
export PATH="$PATH:/usr/sbin:/sbin"

have() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || return 1
    done
}
missing=()
# The overlays are checked too: some distributions split modules into other packages.
if ! have slapd slapadd slappasswd || [[ ! -e /usr/lib/ldap/ppolicy.so ]] ||
    [[ ! -e /usr/lib/ldap/memberof.so ]]; then
    missing+=(slapd)
fi
have ldapsearch ldapadd ldapmodify ldapdelete ldapwhoami || missing+=(ldap-utils)
have openssl || missing+=(openssl)
# Not for slapd: the HR tests check hrsync's signed SAML assertions with xmlsec1, an independent
# XML-DSig implementation.
have xmlsec1 || missing+=(xmlsec1)
# The benchmark (`cargo bench --bench scale`) measures hrsync's peak memory with GNU time.
[[ -x /usr/bin/time ]] || missing+=(time)
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $EUID -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "install-deps: missing ${missing[*]}; run as root, or: apt-get install ${missing[*]}" >&2
    exit 1
fi
command -v apt-get >/dev/null ||
    { echo "install-deps: missing ${missing[*]} and no apt-get to install them" >&2; exit 1; }

echo "install-deps: installing ${missing[*]}" >&2
# The package's own server is of no use to us (every test starts its own slapd on free ports),
# so tell debconf to configure no database: the postinst then creates no directory under
# /var/lib/ldap and has nothing to start on port 389.
echo "slapd slapd/no_configuration boolean true" | "${sudo[@]}" debconf-set-selections
# Through env: sudo would drop an exported DEBIAN_FRONTEND, and then debconf asks questions.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
