#!/usr/bin/env bash
# Remove a 389-DS instance made by start-389ds.sh: the server is stopped and its configuration,
# database, logs and certificates are deleted (`dsctl NAME remove --do-it`, about 5 s).
#
# Usage: stop-389ds.sh DIR        (the DIR given to start-389ds.sh; its instance file names it)
#        stop-389ds.sh INSTANCE   (the INSTANCE that start-389ds.sh printed)
#
# Safe to call twice, on a DIR whose instance is already gone, or on a DIR that never had one:
# that is success, silently. DIR itself is left alone (the caller's to delete).
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: stop-389ds.sh DIR_or_INSTANCE" >&2; exit 1; }
export PATH="$PATH:/usr/sbin:/sbin"

if [[ -d "$1" ]]; then
    [[ -s "$1/instance" ]] || exit 0
    instance=$(<"$1/instance")
else
    instance=$1
fi
# The names start-389ds.sh makes; anything else is a mistake, not something to remove.
[[ "$instance" =~ ^[A-Za-z0-9]+$ ]] ||
    { echo "stop-389ds: not an instance name: $instance" >&2; exit 1; }

# An instance exists as long as its configuration directory does; dsctl needs the dse.ldif in
# it to find everything else. Gone: nothing to do.
if [[ -d "/etc/dirsrv/slapd-$instance" ]]; then
    if ! out=$(dsctl "$instance" remove --do-it 2>&1); then
        # dsctl cannot read a half-made instance (dscreate failed before writing dse.ldif):
        # nothing of it runs yet, so its directories are all there is.
        if [[ ! -s "/etc/dirsrv/slapd-$instance/dse.ldif" ]]; then
            rm -rf "/etc/dirsrv/slapd-$instance" "/var/lib/dirsrv/slapd-$instance" \
                "/var/log/dirsrv/slapd-$instance" "/run/dirsrv/slapd-$instance.pid" \
                "/run/slapd-$instance.socket"
        else
            echo "stop-389ds: dsctl $instance remove failed: $out" >&2
            exit 1
        fi
    fi
fi
if [[ -d "$1" ]]; then
    rm -f "$1/instance"
fi
