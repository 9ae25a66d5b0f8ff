#!/usr/bin/env bash
# Create a throwaway 389 Directory Server instance and print how to reach it.
#
# Usage: start-389ds.sh DIR
#
# The single source of truth for "a real 389-DS like the ones we support": the Rust test harness
# (tests/support/ds389.rs) calls it, and so can a developer by hand.
#
# 389-DS is not a daemon you point at a config file, as slapd is: an instance is a set of
# system-wide directories that lib389's tools create and manage by name (config in
# /etc/dirsrv/slapd-NAME, database in /var/lib/dirsrv/slapd-NAME, logs in
# /var/log/dirsrv/slapd-NAME, pid file and LDAPI socket in /run). So this script needs root, each
# start creates a new instance with a random name `hrsync<hex>`, and DIR only holds what is ours
# (the TLS files, the INF file, the instance's name); tests/389ds/stop-389ds.sh removes the
# instance again. The suffix is dc=example,dc=org with just its root entry, the root DN is
# `cn=Directory Manager` (389's superuser, outside every ACI, like slapd's rootdn).
#
# How (about 8 s in all, three quarters of it dscreate; measured on 2 CPUs, also with two
# starts side by side):
#   1. `dscreate from-file` with start = False (about 6 s): it starts the new server once to
#      configure it (then it briefly listens on all interfaces, on our random ports) and stops it.
#   2. The certificate (ours, see below) goes into the instance's NSS database with
#      `dsctl NAME tls import-ca` / `import-server-key-cert` (0.7 s), which work on a stopped
#      instance.
#   3. cn=config is edited in dse.ldif while the server is stopped, which 389 supports (the server
#      rewrites dse.ldif itself, so edits are only safe while it is down): loopback only, TLS on,
#      the optional plugins and the access log. `dsconf` would need the server running and then a
#      restart for all of these; this way the server starts exactly once, already right, and
#      never listens on anything but loopback once this script has printed its URLs.
#   4. ns-slapd starts, and a probe over LDAPS with strict verification answers (about 0.7 s).
# Removing an instance takes about 4 s (`dsctl NAME remove --do-it` stops it first); the watcher
# below does that after the test process is gone, so nobody waits for it.
#
# Environment (all optional):
#   PORT, LDAPS_PORT   fixed ports; default: free random loopback ports, retried on a clash
#   ADMIN_PASSWORD     password of cn=Directory Manager; default: generated
#   MEMBEROF           1: enable the MemberOf plugin (memberOf on members, and member values that
#                      follow a member's rename); off by default in 389, as here
#   REFINT             1: enable the referential integrity plugin (member, uniquemember, owner and
#                      seeAlso values follow a rename and go away on a delete, at once)
#   ACCESS_LOG         0: no access log (benchmarks); default: one line per operation
#   WATCH_PID          when this process exits, the instance is removed and DIR deleted (the test
#                      harness passes its own pid, so a test binary killed with SIGKILL does not
#                      leak instances)
#   START_TIMEOUT      seconds to wait for the server to answer; default 30
#
# Output on stdout, one shell-sourcable KEY='value' line each:
#   LDAP_URL LDAPS_URL PORT LDAPS_PORT BASE_DN ADMIN_DN ADMIN_PASSWORD CA_FILE INSTANCE ACCESS_LOG
#   ERROR_LOG
# Everything else (progress, errors, the server's error log on failure) goes to stderr. dsconf,
# dsidm and dsctl reach the instance by name (`dsidm INSTANCE -b dc=example,dc=org ...`); as root
# they bind as the Directory Manager through the LDAPI socket, with no password.
#
# Layout of DIR: instance (the instance's name), dscreate.log, tls/{ca.pem,ca.key,server.pem,
# server.key}; instance.inf only while dscreate runs (it holds the root password in clear);
# watcher.log if the watcher could not remove the instance. DIR may exist; it should be empty or a previous run
# of this script, whose instance is then replaced by a new one.
set -euo pipefail

die() {
    echo "start-389ds: $*" >&2
    exit 1
}

# make_test_ca, issue_test_cert
# shellcheck source=../tls/certs.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tls/certs.sh"

[[ $# -eq 1 ]] || die "usage: start-389ds.sh DIR"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)

# The 389 tools live in /usr/sbin, which is not on every PATH (e.g. a non-root login shell).
export PATH="$PATH:/usr/sbin:/sbin"
for tool in dscreate dsctl ns-slapd ldapsearch openssl ss setsid; do
    command -v "$tool" >/dev/null ||
        die "$tool not found: install 389-ds-base, ldap-utils and openssl" \
            "(tests/389ds/install-deps.sh, tests/slapd/install-deps.sh)"
done
# The instance's directories are system-wide and its server runs as the dirsrv user.
[[ $EUID -eq 0 ]] || die "creating a 389-DS instance needs root (it writes /etc/dirsrv, /var/lib/dirsrv)"

SUFFIX="dc=example,dc=org"
ADMIN_DN="cn=Directory Manager"
START_TIMEOUT="${START_TIMEOUT:-30}"
STOP="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stop-389ds.sh"

if [[ -z "${ADMIN_PASSWORD:-}" ]]; then
    # Alphanumeric only, so the value survives any quoting a caller might (wrongly) skip.
    ADMIN_PASSWORD=$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
fi
# dscreate refuses a root password shorter than 8 characters.
((${#ADMIN_PASSWORD} >= 8)) || die "ADMIN_PASSWORD must have at least 8 characters"

umask 077

# An instance left by an earlier start in this DIR goes first.
bash "$STOP" "$DIR"

# lib389 allows letters, digits and `:@_-` in instance names; letters and digits only keeps the
# name usable as is in paths, pid files and the LDAPI socket's name.
INSTANCE="hrsync$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
INSTANCE_DIR="/etc/dirsrv/slapd-$INSTANCE"
DSE="$INSTANCE_DIR/dse.ldif"
LOG_DIR="/var/log/dirsrv/slapd-$INSTANCE"
ERROR_LOG="$LOG_DIR/errors"
ACCESS_LOG_FILE="$LOG_DIR/access"

# --- TLS ------------------------------------------------------------------------------------
# Our own CA plus a server certificate whose subjectAltName covers 127.0.0.1 and localhost:
# rustls never falls back to the CN, so without the SAN strict verification fails (dscreate's
# self-signed certificate names only the host name). EC keys because they are generated
# instantly; NSS serves them with ECDSA cipher suites. Kept if present, so a caller may pre-seed
# DIR/tls with certificates shared with other servers.
TLS="$DIR/tls"
mkdir -p "$TLS"
if [[ ! -s "$TLS/server.pem" || ! -s "$TLS/server.key" || ! -s "$TLS/ca.pem" ]]; then
    make_test_ca "$TLS" || die "openssl could not create the CA"
    issue_test_cert "$TLS" localhost "IP:127.0.0.1,DNS:localhost" ||
        die "openssl could not issue the server certificate"
fi

# --- dse.ldif -------------------------------------------------------------------------------
# Sets ATTR to VALUE in the entry DN of the stopped instance's dse.ldif, replacing the values it
# had (and their folded continuation lines), or adding it. Fails if the entry is not there, so
# a renamed entry in a future 389 version is noticed instead of silently not configured.
dse_set() {
    local dn=$1 attr=$2 value=$3
    awk -v dn="dn: $dn" -v attr="$attr" -v value="$value" '
        BEGIN { want = tolower(dn); prefix = tolower(attr) ":" }
        function finish() { if (inside) { print attr ": " value; inside = 0 } }
        /^$/ { finish(); skipping = 0; print; next }
        /^ / { if (!skipping) print; next }
        {
            skipping = 0
            if (tolower($0) == want) { inside = 1; found = 1; print; next }
            if (inside && index(tolower($0), prefix) == 1) { skipping = 1; next }
            print
        }
        END { finish(); exit !found }
    ' "$DSE" >"$DIR/dse.ldif.new" || { rm -f "$DIR/dse.ldif.new"; die "no entry $dn in $DSE"; }
    # Rewritten in place: dse.ldif keeps its owner (dirsrv) and mode.
    cat "$DIR/dse.ldif.new" >"$DSE"
    rm -f "$DIR/dse.ldif.new"
}

set_ports() {
    dse_set "cn=config" nsslapd-port "$1"
    dse_set "cn=config" nsslapd-securePort "$2"
}

# --- create ---------------------------------------------------------------------------------
# Random ports below Linux's ephemeral range (32768+), so they never collide with the source
# ports of outgoing connections. Two starts may still pick the same port at the same moment;
# the server then fails to bind and we simply try other ports.
random_port() {
    echo $((10000 + (RANDOM * 32768 + RANDOM) % 22000))
}
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
pick_ports() {
    if [[ $fixed_ports -eq 1 ]]; then
        port="${PORT:?PORT and LDAPS_PORT must be set together}"
        ldaps_port="${LDAPS_PORT:?PORT and LDAPS_PORT must be set together}"
        return 0
    fi
    port=$(random_port)
    ldaps_port=$(random_port)
    [[ $port != "$ldaps_port" ]] && ! port_in_use "$port" && ! port_in_use "$ldaps_port"
}
fixed_ports=0
[[ -n "${PORT:-}" || -n "${LDAPS_PORT:-}" ]] && fixed_ports=1

# What stop-389ds.sh removes, recorded before the instance exists so a failure halfway (or a
# caller that gives up) leaves nothing behind that it cannot find.
printf '%s\n' "$INSTANCE" >"$DIR/instance"

created=0
for attempt in 1 2 3 4 5 6 7 8; do
    pick_ports || continue
    # self_sign_cert = False: we bring our own certificate (step 2), and creating dscreate's
    # RSA CA and certificate would only cost time. sample_entries = no: no demo users or ACIs.
    cat >"$DIR/instance.inf" <<EOF
[general]
full_machine_name = localhost
start = False
[slapd]
instance_name = $INSTANCE
port = $port
secure_port = $ldaps_port
root_dn = $ADMIN_DN
root_password = $ADMIN_PASSWORD
self_sign_cert = False
[backend-userroot]
suffix = $SUFFIX
sample_entries = no
create_suffix_entry = yes
EOF
    if dscreate from-file "$DIR/instance.inf" >"$DIR/dscreate.log" 2>&1; then
        created=1
        break
    fi
    # A port taken between our probe and dscreate's start: ns-slapd logs "PR_Bind() on All
    # Interfaces port N failed: ... (Local Network address is in use.)" and dscreate gives up,
    # leaving a half-made instance behind.
    clash=0
    grep -qi 'in use' "$DIR/dscreate.log" "$ERROR_LOG" 2>/dev/null && clash=1
    [[ $clash -eq 0 ]] && tail -n 30 "$DIR/dscreate.log" "$ERROR_LOG" >&2 2>/dev/null
    bash "$STOP" "$INSTANCE"
    if [[ $fixed_ports -eq 0 && $clash -eq 1 ]]; then
        echo "start-389ds: port clash on $port/$ldaps_port, retrying ($attempt)" >&2
        continue
    fi
    rm -f "$DIR/instance.inf"
    [[ $clash -eq 1 ]] && die "port $port or $ldaps_port is in use"
    die "dscreate failed (log: $DIR/dscreate.log)"
done
# The INF holds the root password in clear; it has done its job.
rm -f "$DIR/instance.inf"
[[ $created -eq 1 ]] || die "no free port pair found after several attempts"

# --- configure (stopped) --------------------------------------------------------------------
# The CA is imported as trusted for issuing server certificates; the key and certificate become
# the "Server-Cert" that cn=RSA,cn=encryption,cn=config already names (nsSSLPersonalitySSL).
dsctl "$INSTANCE" tls import-ca "$TLS/ca.pem" "hrsync test CA" >/dev/null 2>"$DIR/tls.log" ||
    { cat "$DIR/tls.log" >&2; bash "$STOP" "$DIR"; die "dsctl tls import-ca failed"; }
dsctl "$INSTANCE" tls import-server-key-cert "$TLS/server.pem" "$TLS/server.key" \
    >/dev/null 2>"$DIR/tls.log" ||
    { cat "$DIR/tls.log" >&2; bash "$STOP" "$DIR"; die "dsctl tls import-server-key-cert failed"; }
rm -f "$DIR/tls.log"

# Loopback only: 389 listens on every interface by default, and a test server with a known
# password must not be reachable from the network. The secure port has its own setting.
dse_set "cn=config" nsslapd-listenhost 127.0.0.1
dse_set "cn=config" nsslapd-securelistenhost 127.0.0.1
# TLS on: the LDAPS port is opened and StartTLS accepted on the plain one, both with Server-Cert.
dse_set "cn=config" nsslapd-security on
if [[ "${ACCESS_LOG:-1}" == 0 ]]; then
    dse_set "cn=config" nsslapd-accesslog-logging-enabled off
else
    dse_set "cn=config" nsslapd-accesslog-logging-enabled on
    # Written as it happens rather than in 389's default buffered chunks, so a test (or a
    # failing test's output) sees the operations that just ran.
    dse_set "cn=config" nsslapd-accesslog-logbuffering off
fi
# A throwaway server: durability is worth nothing here, write speed is (no fsync per commit).
dse_set "cn=config,cn=ldbm database,cn=plugins,cn=config" nsslapd-db-durable-transaction off
if [[ "${MEMBEROF:-}" == 1 ]]; then
    dse_set "cn=MemberOf Plugin,cn=plugins,cn=config" nsslapd-pluginEnabled on
fi
if [[ "${REFINT:-}" == 1 ]]; then
    dse_set "cn=referential integrity postoperation,cn=plugins,cn=config" \
        nsslapd-pluginEnabled on
fi

# --- start ----------------------------------------------------------------------------------
# The probe is what a client does: LDAPS, strict verification against our CA, a bind as the
# Directory Manager. Not LDAPNOINIT (it would make libldap ignore the LDAPTLS_* variables too);
# the variables override ldap.conf and ~/.ldaprc anyway, and LDAPCONF skips the system file.
probe() {
    LDAPCONF=/dev/null LDAPTLS_CACERT="$TLS/ca.pem" LDAPTLS_REQCERT=demand \
        ldapsearch -x -H "ldaps://127.0.0.1:$ldaps_port" -D "$ADMIN_DN" -w "$ADMIN_PASSWORD" \
        -b "$SUFFIX" -s base -o nettimeout=2 1.1 >/dev/null 2>&1
}
# The pid file ns-slapd writes once it is up; its listening sockets prove the ports are ours.
PIDFILE="/run/dirsrv/slapd-$INSTANCE.pid"
ours_listening() {
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    ss -ltnpH "sport = :$ldaps_port" 2>/dev/null | grep -q "pid=$pid,"
}

started=0
for attempt in 1 2 3 4 5 6 7 8; do
    if [[ $attempt -gt 1 ]]; then
        pick_ports || continue
        set_ports "$port" "$ldaps_port"
    fi
    # What `dsctl NAME start` runs when with_systemd = 0 (tests/389ds/install-deps.sh), minus
    # its polling in whole seconds: ns-slapd daemonizes once its listeners are bound (it then
    # answers within about 0.7 s). Its start-up chatter goes to a file: our stdout is the
    # caller's.
    if ns-slapd -D "$INSTANCE_DIR" -i "$PIDFILE" </dev/null >"$DIR/start.log" 2>&1; then
        deadline=$((SECONDS + START_TIMEOUT))
        while ((SECONDS < deadline)); do
            if probe && ours_listening; then
                started=1
                break
            fi
            sleep 0.1
        done
        [[ $started -eq 1 ]] && break
    fi
    # Another server on one of the ports (ns-slapd then exits, logging that it cannot bind), or
    # an answer from someone else: new ports, same instance.
    dsctl "$INSTANCE" stop >/dev/null 2>&1 || true
    if [[ $fixed_ports -eq 0 ]] && grep -qi 'in use' "$ERROR_LOG"; then
        echo "start-389ds: port clash on $port/$ldaps_port, retrying ($attempt)" >&2
        : >"$ERROR_LOG"
        continue
    fi
    cat "$DIR/start.log" >&2
    echo "--- $ERROR_LOG ---" >&2
    tail -n 40 "$ERROR_LOG" >&2
    bash "$STOP" "$DIR"
    die "ns-slapd did not answer on ldaps://127.0.0.1:$ldaps_port within ${START_TIMEOUT}s"
done
rm -f "$DIR/start.log"
if [[ $started -ne 1 ]]; then
    bash "$STOP" "$DIR"
    die "no free port pair found after several attempts"
fi

if [[ -n "${WATCH_PID:-}" ]]; then
    # Removes the instance once the watched process is gone. The instance's name is random and
    # never reused, so "ours" is simply "it still exists": once stop-389ds.sh has removed it,
    # the watcher ends too. Every fd is redirected, so a caller that reads our stdout to EOF (the
    # Rust harness does) is not kept waiting by it.
    #
    # In a session of its own (setsid), unlike start-slapd.sh's watcher: ns-slapd daemonizes
    # into its own session, so a Ctrl-C on `cargo test` (SIGINT to the terminal's process group)
    # or a CI timeout that kills the job's process group ends the tests but not the server, and
    # the watcher must survive that to remove it.
    # shellcheck disable=SC2016 # expanded by the watcher's bash, from its arguments
    watcher='
        watch_pid=$1 instance_dir=$2 dir=$3 stop=$4
        # A watched process that is a zombie (dead, not yet reaped by its parent) is gone too.
        watched_alive() {
            kill -0 "$watch_pid" 2>/dev/null &&
                ! grep -q "^State:[[:space:]]*Z" "/proc/$watch_pid/status" 2>/dev/null
        }
        while watched_alive && [[ -d "$instance_dir" ]]; do
            sleep 1
        done
        if ! watched_alive; then
            # The watched process died without cleaning up after itself: nobody else will. DIR
            # goes only with the instance; if that cannot be removed, DIR/watcher.log says why.
            for _ in 1 2 3; do
                if bash "$stop" "$dir" >>"$dir/watcher.log" 2>&1; then
                    rm -rf "$dir"
                    break
                fi
                sleep 2
            done
        fi
    '
    setsid -f bash -c "$watcher" watcher "$WATCH_PID" "$INSTANCE_DIR" "$DIR" "$STOP" \
        </dev/null >/dev/null 2>&1
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
emit ADMIN_PASSWORD "$ADMIN_PASSWORD"
emit CA_FILE "$TLS/ca.pem"
emit INSTANCE "$INSTANCE"
emit ACCESS_LOG "$ACCESS_LOG_FILE"
emit ERROR_LOG "$ERROR_LOG"
