#!/usr/bin/env bash
# Regenerates web/dist from web/src (needs npm and the registry once, for `npm ci`).
# The built dist is committed, so the Rust build needs neither node nor the network.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node build.mjs
ls -l dist
