#!/usr/bin/env bash
# Start a throwaway OpenLDAP server in DIR and print how to reach it.
#
# Usage: start-slapd.sh DIR
#
# This is the single source of truth for "a real slapd like the ones we support": the Rust test
# harness (tests/support) and the demo (deploy/demo/demo.sh) both call it, so a fix here fixes both.
#
# Environment (all optional):
#   PORT, LDAPS_PORT   fixed ports; default: free random loopback ports, retried on a clash
#   ADMIN_PASSWORD     rootpw of cn=admin,dc=example,dc=org; default: generated
#   SEED_LDIF          space-separated LDIF files loaded with slapadd after the base entries
#   SLAPD_LOGLEVEL     slapd debug level written to DIR/slapd.log; default "stats" (one line per
#                      operation, enough to see what a client sent); "none" for benchmarks
#   WATCH_PID          when this process exits, slapd is stopped too (the test harness passes its
#                      own pid, so a test binary killed with SIGKILL does not leak servers)
#   WATCH_CLEANUP      non-empty: in that case also delete DIR (for callers whose DIR is a temp
#                      dir they would have removed themselves)
#   START_TIMEOUT      seconds to wait for slapd to answer; default 10
#   RESTART            non-empty: start the server of a previous run in DIR again, as it is: same
#                      slapd.conf (edits kept), same data, same ports (PORT and LDAPS_PORT are
#                      then required). Nothing is regenerated and ADMIN_PASSWORD is not printed
#                      (the caller knows it). For tests that stop and restart a server.
#
# Output on stdout, one shell-sourcable KEY='value' line each:
#   LDAP_URL LDAPS_URL PORT LDAPS_PORT BASE_DN ADMIN_DN ADMIN_PASSWORD CA_FILE PID_FILE LOG_FILE
#   CONF_FILE
# Everything else (progress, errors, the slapd log on failure) goes to stderr.
#
# Layout of DIR: slapd.conf, db/ (mdb), tls/{ca.pem,ca.key,server.pem,server.key}, base.ldif,
# slapd.pid, slapd.log. DIR may exist; it should be empty or a previous run of this script.
set -euo pipefail

die() {
    echo "start-slapd: $*" >&2
    exit 1
}

# make_test_ca, issue_test_cert
# shellcheck source=../tls/certs.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tls/certs.sh"

[[ $# -eq 1 ]] || die "usage: start-slapd.sh DIR"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)

# slapd lives in /usr/sbin, which is not on every PATH (e.g. a non-root login shell).
export PATH="$PATH:/usr/sbin:/sbin"
for tool in slapd slapadd slappasswd ldapsearch openssl; do
    command -v "$tool" >/dev/null ||
        die "$tool not found: install slapd, ldap-utils and openssl (tests/slapd/install-deps.sh)"
done

SUFFIX="dc=example,dc=org"
ADMIN_DN="cn=admin,$SUFFIX"
MODULE_DIR=/usr/lib/ldap
SCHEMA_DIR=/etc/ldap/schema
LOGLEVEL="${SLAPD_LOGLEVEL:-stats}"
START_TIMEOUT="${START_TIMEOUT:-10}"

CONF="$DIR/slapd.conf"
if [[ -n "${RESTART:-}" ]]; then
    [[ -s "$CONF" && -d "$DIR/db" ]] || die "RESTART: no previous server in $DIR"
    [[ -n "${PORT:-}" && -n "${LDAPS_PORT:-}" ]] || die "RESTART needs PORT and LDAPS_PORT"
fi

if [[ -z "${RESTART:-}" && -z "${ADMIN_PASSWORD:-}" ]]; then
    # Alphanumeric only, so the value survives any quoting a caller might (wrongly) skip.
    ADMIN_PASSWORD=$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
fi

umask 077
if [[ -z "${RESTART:-}" ]]; then
mkdir -p "$DIR/db" "$DIR/tls"

# --- TLS ------------------------------------------------------------------------------------
# Our own CA plus a server certificate whose subjectAltName covers 127.0.0.1 and localhost:
# rustls never falls back to the CN, so without the SAN strict verification fails. EC keys
# because they are generated instantly (RSA costs noticeable time per test). Kept if present,
# so a caller may pre-seed DIR/tls with certificates shared with other servers.
TLS="$DIR/tls"
if [[ ! -s "$TLS/server.pem" ]]; then
    make_test_ca "$TLS" || die "openssl could not create the CA"
    issue_test_cert "$TLS" localhost "IP:127.0.0.1,DNS:localhost" ||
        die "openssl could not issue the server certificate"
fi

# --- slapd.conf -----------------------------------------------------------------------------
# Hash the root password rather than writing it into slapd.conf verbatim: slapd.conf has its own
# quoting rules and a hash cannot break them. -T reads it from a file, keeping it out of ps.
printf '%s' "$ADMIN_PASSWORD" >"$DIR/rootpw"
ROOTPW_HASH=$(slappasswd -h '{SSHA}' -T "$DIR/rootpw" 2>/dev/null) || die "slappasswd failed"
rm -f "$DIR/rootpw"

cat >"$CONF" <<EOF
# Written by tests/slapd/start-slapd.sh; regenerated on every start.
include $SCHEMA_DIR/core.schema
include $SCHEMA_DIR/cosine.schema
include $SCHEMA_DIR/inetorgperson.schema
include $SCHEMA_DIR/nis.schema

modulepath $MODULE_DIR
moduleload back_mdb
moduleload memberof
# Since 2.5 the ppolicy schema is built into the module: there is no ppolicy.schema to include.
moduleload ppolicy

pidfile $DIR/slapd.pid
argsfile $DIR/slapd.args

TLSCACertificateFile $TLS/ca.pem
TLSCertificateFile $TLS/server.pem
TLSCertificateKeyFile $TLS/server.key

database mdb
directory $DIR/db
suffix "$SUFFIX"
rootdn "$ADMIN_DN"
rootpw $ROOTPW_HASH
# mdb's default map is 10 MiB, too small for the 100k-user tests; the file is sparse.
maxsize 4294967296
# A throwaway server: durability is worth nothing here, write speed is.
dbnosync
index objectClass eq
index uid,employeeNumber,mail,cn,member eq

# Users may bind with their own password (and change it); nobody reads passwords. The rootdn
# bypasses these rules entirely, which is how the connector is meant to run in tests.
access to attrs=userPassword
    by self write
    by anonymous auth
    by * none
access to *
    by * read

overlay memberof

# Without a policy that applies to an entry, ppolicy ignores pwdAccountLockedTime and a
# "disabled" user still binds. The default policy makes it apply to every entry.
overlay ppolicy
ppolicy_default "cn=default,ou=policies,$SUFFIX"
ppolicy_use_lockout
EOF

# --- data -----------------------------------------------------------------------------------
# pwdPolicy is auxiliary; applicationProcess (core.schema) is the simplest structural class
# with a cn, so no extra schema (namedObject) is needed.
cat >"$DIR/base.ldif" <<EOF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: Example Org

dn: cn=admin,$SUFFIX
objectClass: organizationalRole
cn: admin
description: directory administrator (the rootdn; its password lives in slapd.conf)

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: ou=disabled,$SUFFIX
objectClass: organizationalUnit
ou: disabled

dn: ou=policies,$SUFFIX
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,$SUFFIX
objectClass: applicationProcess
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: 0
pwdAllowUserChange: TRUE
EOF

# A restart of the same DIR must not fail on "entry already exists": reload from scratch.
rm -rf "$DIR/db" && mkdir -p "$DIR/db"
slapadd -q -f "$CONF" -l "$DIR/base.ldif" >"$DIR/slapadd.log" 2>&1 ||
    { cat "$DIR/slapadd.log" >&2; die "slapadd of the base entries failed"; }
for seed in ${SEED_LDIF:-}; do
    [[ -r "$seed" ]] || die "SEED_LDIF file not readable: $seed"
    slapadd -q -f "$CONF" -l "$seed" >>"$DIR/slapadd.log" 2>&1 ||
        { cat "$DIR/slapadd.log" >&2; die "slapadd of $seed failed"; }
done
fi # not RESTART
TLS="$DIR/tls"

# --- start ----------------------------------------------------------------------------------
# Random ports below Linux's ephemeral range (32768+), so they never collide with the source
# ports of outgoing connections. Two starts may still pick the same port at the same moment;
# slapd then fails to bind and we simply try other ports.
random_port() {
    echo $((10000 + (RANDOM * 32768 + RANDOM) % 22000))
}
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

LOG="$DIR/slapd.log"
PIDFILE="$DIR/slapd.pid"
fixed_ports=0
[[ -n "${PORT:-}" || -n "${LDAPS_PORT:-}" ]] && fixed_ports=1

started=0
for attempt in 1 2 3 4 5 6 7 8; do
    if [[ $fixed_ports -eq 1 ]]; then
        port="${PORT:?PORT and LDAPS_PORT must be set together}"
        ldaps_port="${LDAPS_PORT:?PORT and LDAPS_PORT must be set together}"
    else
        port=$(random_port)
        ldaps_port=$(random_port)
        if [[ $port == "$ldaps_port" ]] || port_in_use "$port" || port_in_use "$ldaps_port"; then
            continue
        fi
    fi
    rm -f "$PIDFILE"
    [[ -n "${RESTART:-}" ]] || : >"$LOG"
    # Foreground mode (-d) in the background: slapd then logs to a file instead of syslog (there
    # is none in containers). All fds are redirected so a caller that reads our stdout to EOF
    # (the Rust harness does) is not kept waiting by the daemon.
    slapd -d "$LOGLEVEL" -f "$CONF" -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$ldaps_port/" \
        </dev/null >>"$LOG" 2>&1 &
    slapd_pid=$!

    # Another server may already answer on this port (slapd failed to bind it, but the probe
    # reached the other one). slapd binds its listeners before it writes the pidfile and only
    # accepts after that, so "our pid is in the pidfile" proves the port is ours.
    deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$slapd_pid" 2>/dev/null; then
            break
        fi
        # LDAPNOINIT: no ~/.ldaprc or ldap.conf can change what this probe does.
        if [[ "$(cat "$PIDFILE" 2>/dev/null)" == "$slapd_pid" ]] &&
            LDAPNOINIT=1 ldapsearch -x -H "ldap://127.0.0.1:$port" -b "" -s base \
                -o nettimeout=2 >/dev/null 2>&1; then
            started=1
            break
        fi
        sleep 0.05
    done
    [[ $started -eq 1 ]] && break

    if kill -0 "$slapd_pid" 2>/dev/null; then
        kill "$slapd_pid" 2>/dev/null || true
        wait "$slapd_pid" 2>/dev/null || true
        echo "--- $LOG ---" >&2
        tail -n 50 "$LOG" >&2
        die "slapd did not answer on ldap://127.0.0.1:$port within ${START_TIMEOUT}s"
    fi
    wait "$slapd_pid" 2>/dev/null || true
    if [[ $fixed_ports -eq 0 ]] && grep -q 'Address already in use' "$LOG"; then
        echo "start-slapd: port clash on $port/$ldaps_port, retrying ($attempt)" >&2
        continue
    fi
    echo "--- $LOG ---" >&2
    tail -n 50 "$LOG" >&2
    die "slapd exited during startup"
done
[[ $started -eq 1 ]] || die "no free port pair found after several attempts"

if [[ -n "${WATCH_PID:-}" ]]; then
    # Stops slapd once the watched process is gone. Runs in its own background subshell with
    # every fd redirected, for the same reason as slapd itself. "Our slapd" is checked by its
    # command line, so a reused pid is never signalled, and a zombie (slapd was reparented when
    # this script exited, and is reaped whenever its new parent gets to it) counts as gone.
    (
        ours() {
            grep -qF -- "$CONF" "/proc/$slapd_pid/cmdline" 2>/dev/null &&
                ! grep -q '^State:[[:space:]]*Z' "/proc/$slapd_pid/status" 2>/dev/null
        }
        while kill -0 "$WATCH_PID" 2>/dev/null && ours; do
            sleep 1
        done
        if ours; then
            kill "$slapd_pid" 2>/dev/null || true
            if [[ -n "${WATCH_CLEANUP:-}" ]]; then
                # The watched process died without cleaning up after itself: nobody else will.
                for _ in $(seq 1 50); do
                    ours || break
                    sleep 0.1
                done
                rm -rf "$DIR"
            fi
        fi
    ) </dev/null >/dev/null 2>&1 &
fi

# Single quotes make every value safe to `source`, whatever the caller put in ADMIN_PASSWORD.
emit() {
    local q=${2//\'/\'\\\'\'}
    printf "%s='%s'\n" "$1" "$q"
}
emit LDAP_URL "ldap://127.0.0.1:$port"
emit LDAPS_URL "ldaps://127.0.0.1:$ldaps_port"
emit PORT "$port"
emit LDAPS_PORT "$ldaps_port"
emit BASE_DN "$SUFFIX"
emit ADMIN_DN "$ADMIN_DN"
[[ -n "${RESTART:-}" ]] || emit ADMIN_PASSWORD "$ADMIN_PASSWORD"
emit CA_FILE "$TLS/ca.pem"
emit PID_FILE "$PIDFILE"
emit LOG_FILE "$LOG"
emit CONF_FILE "$CONF"
