#!/usr/bin/env bash
# Stop a slapd started by start-slapd.sh DIR and wait until it is gone.
#
# Usage: stop-slapd.sh DIR
#
# Safe to call twice, or on a DIR whose slapd already died: it only ever signals the pid that
# start-slapd.sh recorded, and only if that process is still a slapd.
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: stop-slapd.sh DIR" >&2; exit 1; }
PIDFILE="$1/slapd.pid"
[[ -s "$PIDFILE" ]] || exit 0
pid=$(<"$PIDFILE")
[[ "$pid" =~ ^[0-9]+$ ]] || { echo "stop-slapd: bad pidfile $PIDFILE" >&2; exit 1; }

# A stale pidfile may name a pid that now belongs to something else: never signal that. A
# zombie counts as gone: slapd was reparented when start-slapd.sh exited, and whoever reaps it
# now (init, a container's pid 1) may take its time.
is_slapd() {
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == slapd ]] &&
        ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

if is_slapd; then
    kill -TERM "$pid" 2>/dev/null || true
    # slapd shuts down in milliseconds; give it 5 s before forcing, so a wedged server cannot
    # hang a test run.
    for _ in $(seq 1 100); do
        is_slapd || break
        sleep 0.05
    done
    if is_slapd; then
        echo "stop-slapd: slapd $pid ignored SIGTERM, killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do
            is_slapd || break
            sleep 0.05
        done
    fi
fi
rm -f "$PIDFILE"
