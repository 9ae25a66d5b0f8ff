#!/usr/bin/env bash
# Start a throwaway Samba AD domain controller in DIR and print how to reach it.
#
# Usage: start-samba.sh DIR
#
# The single source of truth for "a real Active Directory like the ones we support": the Rust
# test harness (tests/support/samba.rs) calls it, and so can a demo or a developer by hand.
#
# The domain is EXAMPLE.TEST (NetBIOS EXAMPLE, DC dc1, base DC=example,DC=test), provisioned with
# `samba-tool domain provision --dns-backend=NONE --backend-store=mdb`. Samba's LDAP server has
# no port option (389, 636 and the global catalog's 3268/3269 are compiled in), so every DC gets
# its own loopback address instead: 127.0.0.N with N random in 2..254 (on Linux all of
# 127.0.0.0/8 is local, nothing needs configuring). Several DCs run side by side that way.
#
# Provisioning takes about 5 s, so it happens once into a template directory that later starts
# copy (32 MB in about 0.03 s; only smb.conf holds paths, and this script writes its own). Only
# the LDAP service runs (no SMB, DNS, KDC, NetBIOS, winbindd): samba answers about 0.4 s after
# it starts, and the whole script takes about 0.6 s.
#
# Environment (all optional):
#   ADDR             the loopback address to serve on; default: a random free 127.0.0.N, retried
#                    on a clash
#   ADMIN_PASSWORD   Administrator's password; default: generated. It must pass AD's default
#                    password policy (7+ characters, 3 of upper/lower/digit/other), which stays on
#   SAMBA_TEMPLATE   directory of the provisioned template, created when missing; default
#                    ${TMPDIR:-/tmp}/hrsync-samba-template-<samba version>-<uid>-<script hash>.
#                    "none": provision straight into DIR (about 5 s every start)
#   SAMBA_LOGLEVEL   smb.conf "log level" for DIR/samba.log; default "1 auth_audit:3
#                    dsdb_audit:5 dsdb_group_audit:5" (one line per bind, change and membership
#                    change, enough to see what a client did); "0" for benchmarks
#   WATCH_PID        when this process exits, samba is stopped too (the test harness passes its
#                    own pid, so a test binary killed with SIGKILL does not leak servers)
#   WATCH_CLEANUP    non-empty: in that case also delete DIR
#   START_TIMEOUT    seconds to wait for samba to answer; default 30
#
# Output on stdout, one shell-sourcable KEY='value' line each:
#   LDAP_URL LDAPS_URL ADDR BASE_DN ADMIN_DN ADMIN_UPN ADMIN_PASSWORD CA_FILE PID_FILE LOG_FILE
#   CONF_FILE REALM DOMAIN
# Everything else (progress, errors, the samba log on failure) goes to stderr.
#
# Layout of DIR: dc/ (the domain controller: etc/smb.conf, private/ with the databases, run/ with
# samba.pid), tls/{ca.pem,ca.key,server.pem,server.key}, samba.log. DIR may exist; it should be
# empty or a previous run of this script, whose domain is then replaced by a fresh one.
set -euo pipefail

die() {
    echo "start-samba: $*" >&2
    exit 1
}

# make_test_ca, issue_test_cert
# shellcheck source=../tls/certs.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tls/certs.sh"

[[ $# -eq 1 ]] || die "usage: start-samba.sh DIR"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)

# samba lives in /usr/sbin, which is not on every PATH (e.g. a non-root login shell).
export PATH="$PATH:/usr/sbin:/sbin"
for tool in samba samba-tool ldapsearch ldapmodify openssl iconv base64 flock find; do
    command -v "$tool" >/dev/null ||
        die "$tool not found: install samba, ldap-utils and openssl (tests/samba/install-deps.sh)"
done

# A DC runs as root: samba refuses to start otherwise, and 389/636 are privileged ports.
[[ $EUID -eq 0 ]] || die "a Samba DC must run as root (samba itself insists, and binds 389/636)"

REALM=EXAMPLE.TEST
DOMAIN=EXAMPLE
BASE_DN="DC=example,DC=test"
ADMIN_DN="CN=Administrator,CN=Users,$BASE_DN"
ADMIN_UPN="Administrator@example.test"
LOGLEVEL="${SAMBA_LOGLEVEL:-1 auth_audit:3 dsdb_audit:5 dsdb_group_audit:5}"
START_TIMEOUT="${START_TIMEOUT:-30}"
SAMBA_VERSION=$(samba -V | awk '{print $2}')

# Strong enough for AD's default policy (upper, lower, digit and other), and nothing that needs
# quoting anywhere.
random_password() {
    printf 'Hr1-%s' "$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
}
ADMIN_PASSWORD="${ADMIN_PASSWORD:-$(random_password)}"

umask 077

# A DC still running from an earlier start in this DIR goes first.
STOP="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stop-samba.sh"
bash "$STOP" "$DIR"

# --- provisioning ---------------------------------------------------------------------------
# Provisions a domain into $1/dc and writes its Administrator password to $1/admin-password.
provision() {
    local target=$1 password
    password=$(random_password)
    mkdir -p "$target"
    # -s /dev/null: otherwise the defaults of the system's /etc/samba/smb.conf (Debian's has
    # [homes], [printers], log files under /var/log/samba, ...) end up in the new smb.conf.
    # mdb: adding users is about twice as fast as with the default tdb backend.
    if ! samba-tool domain provision -s /dev/null --targetdir="$target/dc" \
        --realm="$REALM" --domain="$DOMAIN" --server-role=dc --dns-backend=NONE \
        --backend-store=mdb --host-name=dc1 --adminpass="$password" \
        --option="interfaces=lo" --option="bind interfaces only=yes" \
        >"$target/provision.log" 2>&1; then
        tail -n 30 "$target/provision.log" >&2
        die "samba-tool domain provision failed (log: $target/provision.log)"
    fi
    # LMDB lock files hold the reader table of the provisioning process; copies start fresh.
    rm -f "$target"/dc/private/sam.ldb.d/*-lock
    printf '%s' "$password" >"$target/admin-password"
}

# The template is keyed by Samba's version and this script's own hash: a change to how we
# provision gets a new template instead of a stale one.
if [[ "${SAMBA_TEMPLATE:-}" != none ]]; then
    script_hash=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
    TEMPLATE="${SAMBA_TEMPLATE:-${TMPDIR:-/tmp}/hrsync-samba-template-$SAMBA_VERSION-$EUID-$script_hash}"
    # Whoever comes first provisions; the others wait on the lock, then copy.
    exec 9>>"$TEMPLATE.lock"
    flock -w 120 9 || die "timed out waiting for another start to provision $TEMPLATE"
    if [[ -e "$TEMPLATE" ]] && { [[ -L "$TEMPLATE" ]] || [[ ! -O "$TEMPLATE" ]]; }; then
        die "$TEMPLATE is a symlink or not ours; remove it or set SAMBA_TEMPLATE"
    fi
    if [[ ! -s "$TEMPLATE/admin-password" ]]; then
        echo "start-samba: provisioning the template $TEMPLATE (once, about 5 s)" >&2
        rm -rf "$TEMPLATE" "$TEMPLATE.tmp"
        provision "$TEMPLATE.tmp"
        mv "$TEMPLATE.tmp" "$TEMPLATE"
    fi
    # Templates unused for a day belong to old versions of this script: remove them.
    touch "$TEMPLATE"
    find "$(dirname "$TEMPLATE")" -maxdepth 1 -name 'hrsync-samba-template-*' -user "$EUID" \
        -mmin +1440 ! -name '*.lock' -exec rm -rf {} + 2>/dev/null || true
    rm -rf "$DIR/dc"
    cp -a "$TEMPLATE/dc" "$DIR/dc"
    TEMPLATE_PASSWORD=$(<"$TEMPLATE/admin-password")
    exec 9>&-
else
    rm -rf "$DIR/dc" "$DIR/provision.tmp"
    provision "$DIR/provision.tmp"
    mv "$DIR/provision.tmp/dc" "$DIR/dc"
    TEMPLATE_PASSWORD=$(<"$DIR/provision.tmp/admin-password")
    rm -rf "$DIR/provision.tmp"
fi
DC="$DIR/dc"
mkdir -p "$DC/run" "$DC/cache"

# --- TLS ------------------------------------------------------------------------------------
# Our own CA (kept if present, so a caller may share one CA between servers) and a server
# certificate for the chosen address, issued per start. Samba's self-signed certificate has no
# subjectAltName, and rustls never falls back to the CN. EC keys: generated instantly.
TLS="$DIR/tls"
mkdir -p "$TLS"
if [[ ! -s "$TLS/ca.pem" || ! -s "$TLS/ca.key" ]]; then
    make_test_ca "$TLS" || die "openssl could not create the CA"
fi

issue_server_cert() {
    local addr=$1
    issue_test_cert "$TLS" dc1.example.test "IP:$addr,DNS:localhost" ||
        die "openssl could not issue the server certificate"
    # Samba refuses a key file that others can read (it is 0600 through the umask already).
    chmod 600 "$TLS/server.key"
}

# --- smb.conf -------------------------------------------------------------------------------
CONF="$DC/etc/smb.conf"
write_conf() {
    local addr=$1
    cat >"$CONF" <<EOF
# Written by tests/samba/start-samba.sh; regenerated on every start.
[global]
	netbios name = DC1
	realm = $REALM
	workgroup = $DOMAIN
	server role = active directory domain controller
	# LDAP only: no SMB (445), RPC (135), NetBIOS, KDC (88), DNS, replication or winbindd.
	# Simple binds, searches, adds, password sets (unicodePwd) and tree deletes need none of them.
	server services = ldap
	disable netbios = yes
	interfaces = $addr/8
	bind interfaces only = yes
	# Every path inside DIR: nothing is shared with the system's samba or other instances.
	private dir = $DC/private
	state directory = $DC/state
	cache directory = $DC/cache
	lock directory = $DC
	binddns dir = $DC/bind-dns
	pid directory = $DC/run
	ncalrpc dir = $DC/run/ncalrpc
	winbindd socket directory = $DC/run/winbindd
	ntp signd socket directory = $DC/run/ntp_signd
	log level = $LOGLEVEL
	tls enabled = yes
	tls keyfile = $TLS/server.key
	tls certfile = $TLS/server.pem
	tls cafile = $TLS/ca.pem
	# A throwaway DC: durability is worth nothing here, write speed is.
	ldb:nosync = true
EOF
}

# --- processes ------------------------------------------------------------------------------

# The start time (in clock ticks since boot) of a pid: with the pid it names one process for
# good, so a reused pid is never mistaken for our samba. Empty when the pid is gone.
start_time() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    # The fields after the command name, which is in parentheses and may contain spaces.
    stat=${stat##*) }
    # shellcheck disable=SC2086 # word splitting is the point
    set -- $stat
    echo "${20}"
}

# The inode of a TCP socket listening on ADDR:PORT, from /proc/net/tcp (addresses there are
# little-endian hex, ports big-endian hex, state 0A is LISTEN).
listen_inode() {
    local a b c d hex
    IFS=. read -r a b c d <<<"$1"
    hex=$(printf '%02X%02X%02X%02X:%04X' "$d" "$c" "$b" "$a" "$2")
    awk -v want="$hex" '$2 == want && $4 == "0A" { print $10; exit }' /proc/net/tcp
}

# Whether a process that holds socket inode $2 descends from pid $1: proves that the server
# answering on the address is ours and not another DC that won a race for it.
socket_is_ours() {
    local root=$1 inode=$2 fd pid stat
    while read -r fd; do
        pid=${fd#/proc/}
        pid=${pid%%/*}
        while [[ $pid -gt 1 ]]; do
            [[ $pid == "$root" ]] && return 0
            stat=$(cat "/proc/$pid/stat" 2>/dev/null) || break
            stat=${stat##*) }
            read -r _ pid _ <<<"$stat"
        done
    done < <(find /proc/[0-9]*/fd -lname "socket:\[$inode\]" 2>/dev/null)
    return 1
}

addr_in_use() {
    local port
    for port in 389 636 3268 3269; do
        [[ -n "$(listen_inode "$1" "$port")" ]] && return 0
    done
    return 1
}

# A wildcard listener (0.0.0.0:389, or a dual-stack [::]:389, e.g. a system slapd or samba)
# blocks every address.
wildcard_listener() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v v4="00000000:$hex" -v v6="00000000000000000000000000000000:$hex" \
        '($2 == v4 || $2 == v6) && $4 == "0A" { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
for port in 389 636; do
    if wildcard_listener "$port"; then
        die "something listens on *:$port (a system slapd or samba?), so no test DC can" \
            "bind 127.0.0.N:$port; stop it"
    fi
done

ldap_env=(env LDAPTLS_CACERT="$TLS/ca.pem" LDAPTLS_REQCERT=demand)

LOG="$DIR/samba.log"
PIDFILE="$DC/run/samba.pid"
fixed_addr=0
[[ -n "${ADDR:-}" ]] && fixed_addr=1

started=0
for attempt in 1 2 3 4 5 6 7 8; do
    if [[ $fixed_addr -eq 1 ]]; then
        addr=$ADDR
        [[ $addr =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "ADDR must be a 127.x.y.z address"
        addr_in_use "$addr" && die "ADDR $addr: another server already listens on it"
    else
        addr="127.0.0.$((2 + RANDOM % 253))"
        addr_in_use "$addr" && continue
    fi
    issue_server_cert "$addr"
    write_conf "$addr"
    rm -f "$PIDFILE"
    : >"$LOG"
    # Foreground (-F) in the background, logging to stdout: samba then writes one log file of
    # ours instead of log.* files. All fds are redirected so a caller that reads our stdout to
    # EOF (the Rust harness does) is not kept waiting by the daemon.
    samba -s "$CONF" -F --debug-stdout </dev/null >>"$LOG" 2>&1 &
    samba_pid=$!
    # What stop-samba.sh (and so the watcher below) signals; written before anything can fail.
    echo "$samba_pid $(start_time "$samba_pid")" >"$DC/run/samba.proc"

    foreign=0
    deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        kill -0 "$samba_pid" 2>/dev/null || break
        # The probe a client makes: LDAPS, strict verification against our CA, a simple bind.
        if "${ldap_env[@]}" ldapsearch -x -H "ldaps://$addr" -D "$ADMIN_UPN" \
            -w "$TEMPLATE_PASSWORD" -b "$BASE_DN" -s base -o nettimeout=2 1.1 \
            >/dev/null 2>&1; then
            inode=$(listen_inode "$addr" 636)
            if [[ -n "$inode" ]] && socket_is_ours "$samba_pid" "$inode"; then
                started=1
            else
                foreign=1
            fi
            break
        fi
        sleep 0.05
    done
    [[ $started -eq 1 ]] && break

    # A clash: another server holds the address (samba then exits, logging
    # NT_STATUS_ADDRESS_ALREADY_ASSOCIATED), or it answered before ours gave up.
    running=0
    kill -0 "$samba_pid" 2>/dev/null && running=1
    bash "$STOP" "$DIR"
    wait "$samba_pid" 2>/dev/null || true
    if [[ $fixed_addr -eq 0 ]] &&
        { [[ $foreign -eq 1 ]] || grep -q 'ADDRESS_ALREADY_ASSOCIATED' "$LOG"; }; then
        echo "start-samba: $addr is taken by another server, retrying ($attempt)" >&2
        continue
    fi
    echo "--- $LOG ---" >&2
    tail -n 50 "$LOG" >&2
    if [[ $foreign -eq 1 ]] || grep -q 'ADDRESS_ALREADY_ASSOCIATED' "$LOG"; then
        die "another server answers on $addr"
    elif [[ $running -eq 1 ]]; then
        die "samba did not answer on ldaps://$addr within ${START_TIMEOUT}s"
    fi
    die "samba exited during startup"
done
[[ $started -eq 1 ]] || die "no free loopback address found after several attempts"

# --- the Administrator's own password -------------------------------------------------------
# Every copy of the template starts with the template's password; give this DC its own. An
# administrator's reset (replace) ignores password history and minimum age, not complexity.
encoded=$(printf '"%s"' "$ADMIN_PASSWORD" | iconv -f UTF-8 -t UTF-16LE | base64 -w0)
if ! out=$(printf 'dn: %s\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: %s\n' \
    "$ADMIN_DN" "$encoded" |
    "${ldap_env[@]}" ldapmodify -x -H "ldaps://$addr" -D "$ADMIN_UPN" -w "$TEMPLATE_PASSWORD" \
        -o nettimeout=10 2>&1); then
    bash "$STOP" "$DIR"
    die "cannot set the Administrator password (AD's policy wants 7+ characters and 3 of" \
        "upper/lower/digit/other): $out"
fi

if [[ -n "${WATCH_PID:-}" ]]; then
    # Stops samba once the watched process is gone. Runs in its own background subshell with
    # every fd redirected, for the same reason as samba itself. "Our samba" is the pid with the
    # start time recorded above, so a reused pid is never signalled, and a zombie (samba was
    # reparented when this script exited, and is reaped whenever its new parent gets to it)
    # counts as gone.
    samba_start=$(start_time "$samba_pid")
    (
        ours() {
            [[ "$(start_time "$samba_pid")" == "$samba_start" ]] &&
                ! grep -q '^State:[[:space:]]*Z' "/proc/$samba_pid/status" 2>/dev/null
        }
        # A watched process that is a zombie (dead, not yet reaped by its parent) is gone too.
        watched_alive() {
            kill -0 "$WATCH_PID" 2>/dev/null &&
                ! grep -q '^State:[[:space:]]*Z' "/proc/$WATCH_PID/status" 2>/dev/null
        }
        while watched_alive && ours; do
            sleep 1
        done
        if ours; then
            bash "$STOP" "$DIR" || true
            if [[ -n "${WATCH_CLEANUP:-}" ]]; then
                # The watched process died without cleaning up after itself: nobody else will.
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
emit LDAP_URL "ldap://$addr:389"
emit LDAPS_URL "ldaps://$addr:636"
emit ADDR "$addr"
emit BASE_DN "$BASE_DN"
emit ADMIN_DN "$ADMIN_DN"
emit ADMIN_UPN "$ADMIN_UPN"
emit ADMIN_PASSWORD "$ADMIN_PASSWORD"
emit CA_FILE "$TLS/ca.pem"
emit PID_FILE "$PIDFILE"
emit LOG_FILE "$LOG"
emit CONF_FILE "$CONF"
emit REALM "$REALM"
emit DOMAIN "$DOMAIN"
