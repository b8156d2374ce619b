#!/usr/bin/env bash
# Benchmarks of bulk credit grants (docs/benchmarks.md). Builds Release, starts the Polar emulator in its own process on
# a free port with a generated token, seeds customers, runs the measurements, stops the emulator and prints a table.
#
#   bench/run.sh [all|parse|fast|limited] [--slow] [--no-build]
#
#   parse     parse + validate throughput (no emulator)                                        ~1 min
#   fast      parse, then bulk end to end (100k and 1M rows, ids and emails) and the naive way  ~6 min
#   limited   emulator at 500 requests/minute, gateway budget 500: 10,000 rows to existing
#             customers, 1,000 rows to new customers                                           ~5 min
#   campaign  an allCustomers campaign over 10,000 and 100,000 seeded customers (docs/campaigns.md) ~3 min
#   all       fast, then limited (the default)
#   --slow    limited also grants 10,000 rows WITH emails of existing customers (10,011 requests, ~20 min)
#   --no-build  use the last Release build (e.g. for a second run.sh started while one is running)
#
# Results: one JSON line per measurement in bench/results/last-<suite>.jsonl (not committed); the table is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

suite=all slow=0 build=1
for arg in "$@"; do
  case "$arg" in
    all|parse|fast|limited|campaign) suite=$arg ;;
    --slow) slow=1 ;;
    --no-build) build=0 ;;
    *) echo "usage: bench/run.sh [all|parse|fast|limited|campaign] [--slow] [--no-build]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/credit-bench.XXXXXX")
mkdir -p bench/results
results=bench/results/last-$suite.jsonl
: > "$results"
emulator_pid=""

stop_emulator() {
  if [ -n "$emulator_pid" ]; then
    kill -TERM "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
    emulator_pid=""
  fi
}
cleanup() { stop_emulator; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$build" -eq 1 ]; then
  echo "== build (Release)"
  dotnet build src/PolarEmulator/PolarEmulator.csproj -c Release -nologo -v quiet
  dotnet build bench/CreditGrants.Bench/CreditGrants.Bench.csproj -c Release -nologo -v quiet
fi
bench=bench/CreditGrants.Bench/bin/Release/net10.0/credit-grants-bench
emulator=src/PolarEmulator/bin/Release/net10.0/PolarEmulator.dll

# A fresh organization access token for this run: never printed, passed only through the environment.
token="polar_oat_bench_$(head -c 32 /dev/urandom | base64 | tr -d '=\n' | tr '+/' '-_')"

# start_emulator <label> <customers to seed> [emulator options…]: sets POLAR_SERVER and emulator_pid.
start_emulator() {
  local label=$1 customers=$2; shift 2
  local log="$work/emulator-$label.log"
  POLAR_EMULATOR_TOKEN="$token" dotnet "$emulator" --port 0 --seed-meter --seed-customers "$customers" "$@" > "$log" 2>&1 &
  emulator_pid=$!
  for _ in $(seq 1 300); do
    if url=$(grep -o 'listening on http://[^ ]*' "$log" 2>/dev/null | head -1 | cut -d' ' -f3) && [ -n "$url" ]; then
      export POLAR_SERVER=$url
      echo "   emulator ($label) at $POLAR_SERVER, pid $emulator_pid, $customers customers seeded ${*:+($*)}"
      return 0
    fi
    if ! kill -0 "$emulator_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "the emulator did not start:" >&2; cat "$log" >&2; exit 1
}

export POLAR_ACCESS_TOKEN="$token"
measure() { "$bench" "$@" --server-pid "${emulator_pid:-0}" >> "$results"; }

gen() { "$bench" generate "$@"; }

run_parse() {
  echo "== parse and validate (GrantValidator), chunks of 1,000 rows"
  gen "$work/ids-100k.csv" --rows 100000 --shape ids
  gen "$work/ids-1m.csv" --rows 1000000 --shape ids --variant 1
  gen "$work/emails-100k.csv" --rows 100000 --shape emails --variant 2
  gen "$work/emails-1m.csv" --rows 1000000 --shape emails --variant 3
  for f in ids-100k ids-1m emails-100k emails-1m; do
    "$bench" parse "$work/$f.csv" --name "parse-$f" >> "$results"
  done
}

run_fast() {
  run_parse
  echo "== end to end against the emulator (no request limit; gateway budget off)"
  gen "$work/warmup.csv" --rows 20000 --shape ids --variant 9
  gen "$work/ids-10k.csv" --rows 10000 --shape ids --variant 4
  gen "$work/naive-10k.csv" --rows 10000 --shape ids --variant 5
  start_emulator unlimited 1000000
  # Unreported: brings the emulator's code to its steady state, as a long-running Polar is.
  "$bench" bulk "$work/warmup.csv" --name warmup > /dev/null
  for f in ids-100k ids-1m emails-100k emails-1m; do
    measure bulk "$work/$f.csv" --name "bulk-$f" --max-requests-per-1000 2 --max-peak-mb 200
  done
  measure bulk "$work/ids-10k.csv" --name bulk-ids-10k
  measure naive "$work/naive-10k.csv" --name naive-10k --baseline bulk-ids-10k
  stop_emulator
}

run_limited() {
  echo "== with a request limit: emulator at 500 requests/minute, gateway budget 500 (each on a fresh emulator)"
  gen "$work/limited-ids-10k.csv" --rows 10000 --shape ids --variant 6
  gen "$work/limited-new-1k.csv" --rows 1000 --shape emails --prefix new --variant 7
  start_emulator limited-ids 10000 --requests-per-minute 500
  measure bulk "$work/limited-ids-10k.csv" --name limited-ids-10k --requests-per-minute 500
  stop_emulator
  start_emulator limited-new 10000 --requests-per-minute 500
  measure bulk "$work/limited-new-1k.csv" --name limited-new-1k --requests-per-minute 500
  stop_emulator
  if [ "$slow" -eq 1 ]; then
    gen "$work/limited-emails-10k.csv" --rows 10000 --shape emails --variant 8
    start_emulator limited-emails 10000 --requests-per-minute 500
    measure bulk "$work/limited-emails-10k.csv" --name limited-emails-10k --requests-per-minute 500
    stop_emulator
  fi
}

run_campaign() {
  echo "== campaign: allCustomers over every seeded customer, granted once (gateway budget off)"
  start_emulator campaign-10k 10000
  measure campaign campaign-10k --max-requests-per-1000 12 --max-peak-mb 200
  stop_emulator
  start_emulator campaign-100k 100000
  measure campaign campaign-100k --max-requests-per-1000 12 --max-peak-mb 200
  stop_emulator
}

echo "== machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2}') memory, $(dotnet --version) SDK, load $(cut -d' ' -f1-3 /proc/loadavg)"
case "$suite" in
  parse) run_parse ;;
  fast) run_fast ;;
  limited) run_limited ;;
  campaign) run_campaign ;;
  all) run_fast; run_limited ;;
esac

echo
"$bench" report "$results"
echo "(results: $results)"
