#!/usr/bin/env bash
# Install Debian's Chromium (for Playwright tests and screenshots) when it is missing.
# Never downloads a browser from anywhere but Debian's archive: Playwright's own
# `playwright install` needs a CDN that is not reachable on the project's machines.
# Usage: infra/browser/install-chromium.sh   -> prints the browser path on stdout.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

log() { printf 'install-chromium: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ -x "$CHROMIUM" ]]; then
    printf '%s\n' "$CHROMIUM"
    exit 0
fi

[[ "$(id -u)" -eq 0 ]] || die "$CHROMIUM is missing and we are not root: run 'sudo apt-get install chromium fonts-dejavu-core' (Debian) first"
command -v apt-get >/dev/null 2>&1 || die "$CHROMIUM is missing and apt-get is not available (not a Debian-like system): install Chromium with your package manager"

export DEBIAN_FRONTEND=noninteractive

# Refresh the package lists only when apt does not know a candidate for chromium
# (fresh image with empty lists, or stale lists): an update costs time and network.
candidate() { apt-cache policy chromium 2>/dev/null | awk '/Candidate:/ {print $2}'; }
if [[ -z "$(candidate)" || "$(candidate)" == "(none)" ]]; then
    log "running apt-get update"
    apt-get update -q >&2
fi

log "installing chromium from Debian (this takes a few minutes)"
if ! apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >&2; then
    # The lists may be stale (a mirror dropped the old .deb): refresh once and retry.
    log "install failed; refreshing package lists and retrying once"
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >&2
fi

[[ -x "$CHROMIUM" ]] || die "chromium was installed but $CHROMIUM is missing"
printf '%s\n' "$CHROMIUM"
