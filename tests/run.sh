#!/usr/bin/env bash
# The project's test command (README): format, lint, then every test against real servers.
#
# Usage: tests/run.sh [extra cargo test args, e.g. a test name filter or -- --nocapture]
#
# Works from any directory and on a fresh Debian machine as root (what CI is): whatever the tests
# need beyond the Rust toolchain is installed first.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tests/slapd/install-deps.sh
bash tests/samba/install-deps.sh
bash tests/389ds/install-deps.sh
bash tests/scim/install-deps.sh
bash tests/chromium/install-deps.sh

# A failing test's panic is much easier to place with a backtrace, and CI offers no second try.
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

# --locked: CI must build exactly what Cargo.lock says; an out-of-date lock file is an error to
# fix in the commit, not something to resolve silently on the CI machine.
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
# --all-targets leaves out doctests; run them first, so the summary of the full run below is
# the last thing printed. Skipped when the caller narrows the run with arguments.
if [[ $# -eq 0 ]]; then
    cargo test --locked --doc
fi
cargo test --locked --all-targets "$@"
