#!/usr/bin/env bash
# The hrsync demo (README): a throwaway OpenLDAP directory that has drifted from the HR system,
# then `hrsync plan`, `hrsync apply` and `hrsync plan` again, which must show nothing left to do.
#
# Usage: deploy/demo/demo.sh [--slapd-only] [--keep]
#   --slapd-only  start the seeded directory and show it, without building or running hrsync
#   --keep        leave the directory running at the end until Ctrl-C, to explore it
#
# Needs only the Rust toolchain; slapd, ldap-utils and openssl are installed when missing (as
# root, with apt-get). Nothing outside a temp dir is touched, and the directory listens on free
# loopback ports only, so the demo can run next to anything else.
#
# The data: deploy/demo/hr.json (a BambooHR-style report) and deploy/demo/directory.ldif (the
# directory, whose header lists every intentional difference from HR).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
DEMO=deploy/demo

slapd_only=0
keep=0
for arg in "$@"; do
    case "$arg" in
    --slapd-only) slapd_only=1 ;;
    --keep) keep=1 ;;
    *)
        echo "usage: $0 [--slapd-only] [--keep]" >&2
        exit 2
        ;;
    esac
done

# Headings on stderr like everything that is not hrsync's own output, so `demo.sh > plan.txt`
# still captures just the plans.
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

bash tests/slapd/install-deps.sh

if [[ $slapd_only -eq 0 && -n "${HRSYNC_BIN:-}" ]]; then
    # A prebuilt binary (a release download, a container's): no Rust toolchain needed.
    [[ -x "$HRSYNC_BIN" ]] || { echo "demo: HRSYNC_BIN=$HRSYNC_BIN is not an executable" >&2; exit 1; }
    HRSYNC="$HRSYNC_BIN"
elif [[ $slapd_only -eq 0 ]]; then
    say "Building hrsync (release; the first build takes a few minutes)"
    cargo build --release --locked --quiet
    HRSYNC="$ROOT/target/release/hrsync"
fi

WORK=$(mktemp -d -t hrsync-demo-XXXXXX)
sleep_pid=
cleanup() {
    [[ -n "$sleep_pid" ]] && kill "$sleep_pid" 2>/dev/null
    bash tests/slapd/stop-slapd.sh "$WORK/slapd" || true
    rm -rf "$WORK"
}
trap cleanup EXIT
# Ctrl-C during --keep (or anywhere) should still run the cleanup above, then stop.
trap 'exit 130' INT TERM

say "Starting a throwaway OpenLDAP seeded with $DEMO/directory.ldif"
SEED_LDIF="$DEMO/directory.ldif" bash tests/slapd/start-slapd.sh "$WORK/slapd" >"$WORK/slapd.env"
# shellcheck source=/dev/null
source "$WORK/slapd.env"

# How hrsync finds the demo directory: deploy/demo/hrsync.toml reads these. The password is a
# secret, so it travels in the environment, never on a command line or in the config file.
export HRSYNC_DIRECTORY__URL="$LDAP_URL"
export HRSYNC_DIRECTORY__CA_FILE="$CA_FILE"
# (Only variables hrsync reads: it warns about any other HRSYNC_* variable, to catch typos.)
export HRSYNC_DEMO_BIND_PASSWORD="$ADMIN_PASSWORD"

# ldap-utils as the admin; the password goes through a file, not the argument list.
(umask 077 && printf '%s' "$ADMIN_PASSWORD" >"$WORK/admin.pw")
admin_search() {
    LDAPTLS_CACERT="$CA_FILE" ldapsearch -x -LLL -o ldif-wrap=no -H "$LDAP_URL" -ZZ \
        -D "$ADMIN_DN" -y "$WORK/admin.pw" "$@"
}

# One line per account: where it lives, whether it is locked, and its groups.
show_directory() {
    local groups
    groups=$(admin_search -b "ou=groups,$BASE_DN" "(objectClass=groupOfNames)" cn member)
    admin_search -b "$BASE_DN" "(objectClass=inetOrgPerson)" uid employeeNumber \
        pwdAccountLockedTime |
        awk -v groups="$groups" '
            BEGIN {
                # member DN (lowercased) -> space-separated group cns
                n = split(groups, g, "\n")
                for (i = 1; i <= n; i++) {
                    if (g[i] ~ /^cn: /) cn = substr(g[i], 5)
                    if (g[i] ~ /^member: /) of[tolower(substr(g[i], 9))] = of[tolower(substr(g[i], 9))] " " cn
                }
            }
            function flush() {
                if (dn == "") return
                place = dn; sub(/^[^,]*,/, "", place); sub(/,dc=example,dc=org$/, "", place)
                printf "  %-4s %-20s %-30s %-7s%s\n", (emp == "" ? "-" : emp), uid, place,
                    (locked ? "LOCKED" : ""), of[tolower(dn)]
                dn = ""; uid = ""; emp = ""; locked = 0
            }
            /^dn: / { flush(); dn = substr($0, 5) }
            /^uid: / { uid = substr($0, 6) }
            /^employeeNumber: / { emp = substr($0, 17) }
            /^pwdAccountLockedTime: / { locked = 1 }
            END { flush() }
        ' | sort >&2
}

# A real bind as the person: the only proof that a leaver is locked out.
try_bind() {
    local rc=0
    LDAPTLS_CACERT="$CA_FILE" ldapwhoami -x -ZZ -H "$LDAP_URL" -D "$1" -w demo >/dev/null 2>&1 ||
        rc=$?
    case $rc in
    0) echo "  $1: can log in" >&2 ;;
    49) echo "  $1: cannot log in (invalid credentials or locked)" >&2 ;;
    *) echo "  $1: bind failed with ldapwhoami exit code $rc" >&2 ;;
    esac
}
LEAVER="uid=dennis.ritchie,ou=engineering,ou=people,$BASE_DN"

say "Directory before (employeeNumber, uid, OU, lock, groups)"
show_directory
say "Logging in before hrsync runs (every password is \"demo\")"
try_bind "$LEAVER"
try_bind "uid=ken.thompson,ou=disabled,$BASE_DN"

if [[ $slapd_only -eq 0 ]]; then
    say "hrsync plan: what would change, and why"
    "$HRSYNC" --config "$DEMO/hrsync.toml" --log-format text plan
    say "hrsync apply"
    "$HRSYNC" --config "$DEMO/hrsync.toml" --log-format text apply
    say "hrsync plan again: nothing left to do (exit code 0 with --detailed-exitcode)"
    "$HRSYNC" --config "$DEMO/hrsync.toml" --log-format text plan --detailed-exitcode

    say "Directory after"
    show_directory
    say "Logging in after hrsync ran"
    # The leaver's account was moved to ou=disabled and locked; the rehire's unlocked and moved.
    try_bind "uid=dennis.ritchie,ou=disabled,$BASE_DN"
    try_bind "uid=ken.thompson,ou=engineering,ou=people,$BASE_DN"
fi

if [[ $keep -eq 1 ]]; then
    say "The directory stays up until Ctrl-C"
    cat >&2 <<EOF
  export LDAPTLS_CACERT='$CA_FILE'
  ldapsearch -x -ZZ -H '$LDAP_URL' -D '$ADMIN_DN' -w '$ADMIN_PASSWORD' -b '$BASE_DN'
  (every person's password is "demo")
EOF
    # `wait` (unlike a foreground sleep) returns as soon as a signal arrives, so the trap runs.
    while true; do
        sleep 3600 &
        sleep_pid=$!
        wait "$sleep_pid" || true
    done
fi
