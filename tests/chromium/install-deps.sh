#!/usr/bin/env bash
# Make sure the browser the approval page is tested in is installed: Debian's chromium, driven
# headless by tests/integration/approval_page.rs (which fails, rather than skips, without it).
#
# Usage: install-deps.sh        (as root, or with passwordless sudo, when chromium is missing)
#
# A no-op when /usr/bin/chromium is there; on a fresh Debian machine (CI) it installs chromium,
# and fonts-liberation for the screenshot's text (a recommendation of chromium, which this
# install leaves out otherwise), with apt-get (a few hundred MB, a minute or two).
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
    exit 0
fi

if [[ $EUID -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "install-deps: chromium is missing; run as root, or: apt-get install chromium" >&2
    exit 1
fi
command -v apt-get >/dev/null ||
    { echo "install-deps: chromium is missing and no apt-get to install it" >&2; exit 1; }

echo "install-deps: installing chromium" >&2
# Through env: sudo would drop an exported DEBIAN_FRONTEND, and then debconf asks questions.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
[[ -x /usr/bin/chromium ]] ||
    { echo "install-deps: apt-get installed chromium but /usr/bin/chromium is missing" >&2; exit 1; }
echo "install-deps: done" >&2
