#!/usr/bin/env bash
# Stop a Samba DC started by start-samba.sh DIR and wait until all its processes are gone.
#
# Usage: stop-samba.sh DIR
#
# Safe to call twice, or on a DIR whose samba already died: it only ever signals the process
# that start-samba.sh recorded (pid and start time, in DIR/dc/run/samba.proc) and that process's
# children, and only while they are still those processes.
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: stop-samba.sh DIR" >&2; exit 1; }
RUN="$1/dc/run"
PROC_FILE="$RUN/samba.proc"
[[ -s "$PROC_FILE" ]] || { rm -f "$RUN/samba.pid"; exit 0; }
read -r pid start <"$PROC_FILE" || true
[[ "$pid" =~ ^[0-9]+$ ]] || { echo "stop-samba: bad $PROC_FILE" >&2; exit 1; }
# No start time: samba was gone before start-samba.sh could even read it.
[[ "${start:-}" =~ ^[0-9]+$ ]] || { rm -f "$PROC_FILE" "$RUN/samba.pid"; exit 0; }

# The parent and the start time of every live (non-zombie) process: a pid plus its start time
# names one process for good, so a reused pid is never signalled.
declare -A parent_of=() start_of=()
scan() {
    local file line pid_ state ppid
    parent_of=()
    start_of=()
    for file in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$file" || continue
        pid_=${line%% *}
        # The fields after the command name, which is in parentheses and may contain spaces.
        line=${line##*) }
        # shellcheck disable=SC2086 # word splitting is the point
        set -- $line
        state=$1
        ppid=$2
        [[ $state == Z ]] && continue
        parent_of[$pid_]=$ppid
        start_of[$pid_]=${20}
    done
}

# samba's children (an ldap master, its pre-forked workers, the "tfork" waiters between them)
# end on their own soon after samba, but they are collected first: once samba is gone they are
# reparented and no longer recognisable as its children.
scan
tree=()
if [[ "${start_of[$pid]:-}" == "$start" ]]; then
    queue=("$pid")
    while [[ ${#queue[@]} -gt 0 ]]; do
        current=${queue[0]}
        queue=("${queue[@]:1}")
        tree+=("$current:${start_of[$current]}")
        for child in "${!parent_of[@]}"; do
            [[ ${parent_of[$child]} == "$current" ]] && queue+=("$child")
        done
    done
fi

alive() {
    local entry
    scan
    for entry in "${tree[@]}"; do
        [[ "${start_of[${entry%%:*}]:-}" == "${entry#*:}" ]] && return 0
    done
    return 1
}

if [[ ${#tree[@]} -gt 0 ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    # samba and its children stop in well under a second; give them 10 s before forcing, so a
    # wedged server cannot hang a test run.
    for _ in $(seq 1 100); do
        alive || break
        sleep 0.1
    done
    if alive; then
        echo "stop-samba: samba $pid ignored SIGTERM, killing its processes" >&2
        for entry in "${tree[@]}"; do
            if [[ "${start_of[${entry%%:*}]:-}" == "${entry#*:}" ]]; then
                kill -KILL "${entry%%:*}" 2>/dev/null || true
            fi
        done
        for _ in $(seq 1 40); do
            alive || break
            sleep 0.05
        done
    fi
fi
rm -f "$PROC_FILE" "$RUN/samba.pid"
