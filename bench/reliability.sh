#!/usr/bin/env bash
# The fault harness (tests/CreditFunctions.Tests/Reliability): concurrent HTTP grants, a bulk job on three workers of
# the host's trigger engine (one stopped mid-chunk) and a campaign run by the RunCampaigns timer through the same workers,
# against an emulator that fails, rate-limits, drops connections and loses answers. Checks that every balance is exact
# and every grant, row and campaign target ends once; writes the figures as JSON.
#
#   bash bench/reliability.sh            the issue's sizes: 1,000 HTTP grants, a 10,000-row job, a campaign over 1,000
#                                        customers (several minutes)
#   bash bench/reliability.sh --short    200 HTTP grants, a 2,000-row job, a campaign over 200 customers (what CI runs as
#                                        part of the tests, under a minute)
#
# Needs Azurite on 127.0.0.1:10000-10002 (started here when nothing listens there) and the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/.."

scale=full
case "${1:-}" in
  --short) scale=short ;;
  "") ;;
  -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
  *) echo "unknown option '$1' (expected --short or nothing)"; exit 2 ;;
esac

report="${RELIABILITY_REPORT:-$PWD/bench/results/reliability-$scale.json}"
mkdir -p "$(dirname "$report")"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
azurite_pid=""
cleanup() { [ -n "$azurite_pid" ] && kill "$azurite_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
if ! port_open 10001; then
  [ -x node_modules/.bin/azurite ] || npm ci --silent --no-audit --no-fund
  data=$(mktemp -d)
  ./node_modules/.bin/azurite --silent --skipApiVersionCheck --loose --location "$data" \
    --blobPort 10000 --queuePort 10001 --tablePort 10002 > "$data/azurite.log" 2>&1 &
  azurite_pid=$!
  for _ in $(seq 1 120); do port_open 10001 && break; sleep 0.5; done
fi

dotnet build tests/CreditFunctions.Tests -c Release -nologo -v quiet
RELIABILITY_SCALE=$scale RELIABILITY_REPORT="$report" \
  dotnet test tests/CreditFunctions.Tests -c Release --no-build --nologo --filter "FullyQualifiedName~ReliabilityHarnessTests"
echo "figures: $report"
cat "$report"
