#!/usr/bin/env bash
# The main job on the local default: grant a new customer 100 credits, then show the balance that holds them.
# With no POLAR_SERVER and no POLAR_ACCESS_TOKEN, `credits` runs the embedded Polar emulator (state in ~/.local/share/credits,
# one folder per user; --data-dir or CREDITS_DATA_DIR chooses another).
# ./credits builds the CLI on its first run (about two minutes with the restore) and whenever its sources change.
set -euo pipefail
cd "$(dirname "$0")/.."
./credits grant --customer user-42 --email mary@somerville.dev --name "Mary Somerville" --units 100 \
  --grant-id welcome-user-42 --reason "Free trial credits"
./credits balance --customer user-42
