#!/usr/bin/env bash
# Benchmarks of bulk credit grants (docs/benchmarks.md). Builds Release, starts the Polar emulator in its own process on
# a free port with a generated token, seeds customers, runs the measurements, stops the emulator and prints a table.
#
#   bench/run.sh [all|parse|fast|limited|campaign|expiry|revoke|batch-sizes|emails-cold|single-grants|limited-emails|directory-store] [--slow] [--no-build]
#                [--rounds N] [--rows N]
#   bench/run.sh compare <commit A> <commit B> [--rounds N] [--rows N] [--directory warm|cold]
#
#   parse     parse + validate throughput (no emulator)                                        ~1 min
#   fast      parse, then bulk end to end (100k and 1M rows, ids and emails; directory cold, and swept for ids-100k),
#             10k rows in an organization of 30,000, and the naive way                             ~8 min
#   limited   emulator at 500 requests/minute, gateway budget 500: 10,000 rows to existing
#             customers, 1,000 rows to new customers                                           ~5 min
#   campaign  an allCustomers campaign over 10,000 and 100,000 seeded customers (docs/campaigns.md) ~3 min
#   expiry    the expiry sweep over 1,000 and 10,000 due grants, one customer each (docs/credit-lifecycle.md#expiry)
#   revoke    a bulk job's revocation: 10,000 rows over 1,000 customers (and 100,000 over 10,000 with --slow), a tenth with usage (docs/bulk.md)
#   compare   the same end-to-end run (--rows, default 1,000,000 rows to existing customers, no emails) with the code
#             of two commits, alternately A, B, A, B… (--rounds, default 3), each on a fresh emulator; medians at the end.
#             Each commit is exported (git archive) into a temporary folder with THIS checkout's bench harness laid over
#             it, so both are measured by the same harness; the emulator is this checkout's.         ~4 min
#   batch-sizes  the same run with larger chunks and ingest requests (Bulk:ChunkRows / Polar:MaxEventsPerRequest:
#             1000/1000, 2500/1000, 2500/2500, 5000/5000, 10000/10000), alternately, --rounds each (default 2) ~5 min
#   emails-cold     issue #12: 100,000 rows WITH emails to existing customers of an organization of 100,000, the CLI's
#             customer directory (SQLite) starting empty, so the run sweeps the customer list; no request limit   ~2 min
#   single-grants   issue #12: single grants as POST /api/grants makes them (GrantService, one at a time), in one process
#             and one directory: 1,000 to customers the directory does not know yet, the same 1,000 again (known), then
#             1,000 mixed (500 known, 250 existing but unknown, 250 new with emails)                            ~1 min
#   limited-emails  issue #12: emails-cold at 500 requests/minute (emulator and gateway budget)                ~3 min
#   directory-store  issue #12: the compare file (--rows, default 1,000,000 rows without emails) with a warm directory
#             in the CLI's SQLite file and in memory, alternately (--rounds, default 2): what the directory's lookups cost
#   p95       issue #19: HTTP grant latency (POST /api/grants through the app's function and DI container, budget shared
#             through a table on Azurite) idle and with a customer sweep running, alternately (--rounds, default 3), 60 s
#             each at --rate grants/s (default 2) to known customers; emulator with 75 ms per request, at 500 requests/minute
#             (100,000 customers) and without a limit (200,000); p50/p95/p99, sweep pages, p95 ratio (target <= 110 %)  ~15 min
#             --limits "500 500-memory none": which runs (500-memory: the directory in memory instead of its Azurite table)
#   all       fast, then limited (the default)
#   --slow    limited also grants 10,000 rows WITH emails of existing customers (10,011 requests, ~20 min)
#   --directory  compare, batch-sizes: the customer directory each run starts from, warm (default: the organization swept within the
#             hour, written straight into the directory) or cold (empty: the run sweeps); commits without a directory ignore it
#   --no-build  use the last Release build (e.g. for a second run.sh started while one is running)
#
# Results: one JSON line per measurement in bench/results/last-<suite>.jsonl (not committed); the table is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: bench/run.sh [all|parse|fast|limited|campaign|expiry|revoke|batch-sizes|emails-cold|single-grants|limited-emails|directory-store|p95] [--slow] [--no-build]
              [--rounds N] [--rows N] [--rate N] [--limits \"500 none\"]
       bench/run.sh compare <commit A> <commit B> [--rounds N] [--rows N] [--directory warm|cold]"
suite=all slow=0 build=1 rounds="" rows=1000000 commits=() directory=warm rate=2 limits="500 none"
while [ $# -gt 0 ]; do
  case "$1" in
    all|parse|fast|limited|campaign|expiry|revoke|batch-sizes|emails-cold|single-grants|limited-emails|directory-store|p95) suite=$1 ;;
    compare) suite=compare
      [ $# -ge 3 ] || { echo "$usage" >&2; exit 2; }
      commits=("$2" "$3"); shift 2 ;;
    --slow) slow=1 ;;
    --no-build) build=0 ;;
    --rounds) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; rounds=$2; shift ;;
    --rows) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; rows=$2; shift ;;
    --rate) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; rate=$2; shift ;;
    --limits) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; limits=$2; shift ;;
    --directory) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; directory=$2; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
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
  # compare builds the harness with each commit's code instead (see run_compare).
  if [ "$suite" != compare ]; then
    dotnet build bench/CreditGrants.Bench/CreditGrants.Bench.csproj -c Release -nologo -v quiet
  fi
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
  # Each run starts from a cold customer directory (issue #19): rows without emails cost no customer request (unchecked),
  # rows with emails sweep the organization when that beats a create each (10,000 requests at 1,000,000 customers).
  for f in ids-100k ids-1m; do
    measure bulk "$work/$f.csv" --name "bulk-$f" --max-requests-per-1000 2 --max-peak-mb 200
  done
  measure bulk "$work/ids-10k.csv" --name bulk-ids-10k
  measure naive "$work/naive-10k.csv" --name naive-10k --baseline bulk-ids-10k
  stop_emulator
  # Rows with emails, and a warm directory, in an organization of 100,000: the emulator lists a page of a 1,000,000-customer
  # organization too slowly (it sorts the whole store per page) for a sweep of it to measure anything but the emulator.
  start_emulator org-100k 100000
  "$bench" bulk "$work/warmup.csv" --name warmup > /dev/null
  measure bulk "$work/emails-100k.csv" --name bulk-emails-100k --max-requests-per-1000 11.26 --max-peak-mb 200
  # Warm: the organization swept first (its requests and time reported in the note, not counted in the run's).
  measure bulk "$work/ids-100k.csv" --name bulk-ids-100k-swept --directory swept --max-requests-per-1000 1.01
  stop_emulator
  # An organization of 30,000 (300 pages: over the 24 learned inline), directory cold: 10 ingests, no sweep in the run.
  start_emulator org-30k 30000
  measure bulk "$work/ids-10k.csv" --name bulk-ids-10k-org-30k --max-requests-per-1000 4.5
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

run_expiry() {
  echo "== expiry sweep: due grants on as many customers, a tenth partly spent, swept once (gateway budget off)"
  start_emulator expiry-1k 0
  measure expiry expiry-1k --grants 1000
  stop_emulator
  start_emulator expiry-10k 0
  measure expiry expiry-10k --grants 10000
  stop_emulator
}

run_revoke() {
  echo "== job revocation: rows of 10 units over seeded customers, a tenth having spent 25, revoked once (gateway budget off)"
  start_emulator revoke-10k 1000
  measure revoke revoke-10k --rows 10000 --customers 1000
  stop_emulator
  if [ "$slow" -eq 1 ]; then
    start_emulator revoke-100k 10000
    measure revoke revoke-100k --rows 100000 --customers 10000
    stop_emulator
  fi
}

# seeded_run <label> <bench executable> <file> [bench options…]: a fresh emulator seeded with the file's customers, the
# unreported warm-up, then one measurement, so that no run inherits another's events or a warmer emulator. The warm-up's
# customer directory is warm, so that it never sweeps the organization (its directory is its own process's anyway).
# With --directory warm, the measured run's directory (a SQLite file, as the CLI keeps it) is written beforehand by a
# process of its own, so that neither its memory nor its time is the measured run's.
seeded_run() {
  local label=$1 runner=$2 file=$3; shift 3
  local warm=()
  if [ "$directory" = warm ]; then
    rm -f "$work/directory.db"
    "$runner" directory-warm "$work/directory.db" --from "$file"
    warm=(--directory-file "$work/directory.db")
  fi
  start_emulator "$label" "$rows"
  "$runner" bulk "$work/warmup.csv" --name warmup --directory warm > /dev/null
  "$runner" bulk "$file" --name "$label" --server-pid "$emulator_pid" --directory "$directory" "${warm[@]}" "$@" >> "$results"
  stop_emulator
}

# export_commit <commit>: the commit's tree in $work/tree-<sha>, with this checkout's bench harness over it, built;
# prints the folder.
export_commit() {
  local sha dir
  sha=$(git rev-parse --short=7 "$1^{commit}")
  dir="$work/tree-$sha"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    git archive "$sha" | tar -x -C "$dir"
    rm -rf "$dir/bench/CreditGrants.Bench"
    mkdir -p "$dir/bench"
    tar -c --exclude=bin --exclude=obj -C bench CreditGrants.Bench | tar -x -C "$dir/bench"
    echo "== build $sha (Release, with this checkout's bench harness)" >&2
    dotnet build "$dir/bench/CreditGrants.Bench/CreditGrants.Bench.csproj" -c Release -nologo -v quiet >&2
  fi
  echo "$dir"
}

run_compare() {
  local rounds=${rounds:-3} a b dir_a dir_b
  a=$(git rev-parse --short=7 "${commits[0]}^{commit}")
  b=$(git rev-parse --short=7 "${commits[1]}^{commit}")
  dir_a=$(export_commit "$a")
  dir_b=$(export_commit "$b")
  local bench_a="$dir_a/bench/CreditGrants.Bench/bin/Release/net10.0/credit-grants-bench"
  local bench_b="$dir_b/bench/CreditGrants.Bench/bin/Release/net10.0/credit-grants-bench"
  bench=$bench_a # generates the files and prints the report
  echo "== compare A = $a, B = $b: $rows rows to existing customers without emails, directory $directory, $rounds rounds of A then B"
  gen "$work/warmup.csv" --rows 20000 --shape ids --variant 9
  gen "$work/compare.csv" --rows "$rows" --shape ids --variant 1
  for round in $(seq 1 "$rounds"); do
    echo "   round $round, load $(cut -d' ' -f1-3 /proc/loadavg)"
    seeded_run "A $a" "$bench_a" "$work/compare.csv"
    seeded_run "B $b" "$bench_b" "$work/compare.csv"
  done
}

run_batch_sizes() {
  local rounds=${rounds:-2} config chunk events
  echo "== batch sizes: $rows rows to existing customers without emails, chunk rows / events per ingest request"
  gen "$work/warmup.csv" --rows 20000 --shape ids --variant 9
  gen "$work/batch.csv" --rows "$rows" --shape ids --variant 1
  for round in $(seq 1 "$rounds"); do
    echo "   round $round, load $(cut -d' ' -f1-3 /proc/loadavg)"
    for config in 1000:1000 2500:1000 2500:2500 5000:5000 10000:10000; do
      chunk=${config%:*} events=${config#*:}
      seeded_run "chunks of $chunk, $events per request" "$bench" "$work/batch.csv" --chunk-rows "$chunk" --max-events-per-request "$events"
    done
  done
}

# Issue #12: rows WITH emails of existing customers, the directory starting empty (cold), so the run sweeps the list.
run_emails_cold() {
  local label=${1:-emails-100k-cold}; shift || true
  echo "== $label: 100,000 rows with emails, existing customers, organization of 100,000, directory cold (SQLite) $*"
  gen "$work/warmup.csv" --rows 20000 --shape ids --variant 9
  gen "$work/emails-100k.csv" --rows 100000 --shape emails --variant 2
  start_emulator "$label" 100000 "$@"
  # The warm-up would spend the limited emulator's first minute: only without a limit.
  if [ $# -eq 0 ]; then "$bench" bulk "$work/warmup.csv" --name warmup --directory warm > /dev/null; fi
  measure bulk "$work/emails-100k.csv" --name "$label" --directory cold --max-requests-per-1000 12 --max-peak-mb 200 "$@"
  stop_emulator
}

# Issue #12: single grants (POST /api/grants's GrantService), one process, one directory that starts empty.
run_single_grants() {
  echo "== single grants, one at a time, one directory (SQLite) starting empty; organization of 2,000 customers"
  gen "$work/first.csv" --rows 1000 --shape ids --variant 11
  gen "$work/known.csv" --rows 1000 --shape ids --variant 12
  # Mixed: 500 known (user-1…500), 250 existing that the directory has not seen (user-1001…1250), 250 new (new-1…250).
  gen "$work/mixed-known.csv" --rows 500 --shape emails --variant 13
  gen "$work/mixed-unknown.csv" --rows 250 --shape emails --first 1001 --variant 13
  gen "$work/mixed-new.csv" --rows 250 --shape emails --prefix new --variant 13
  { cat "$work/mixed-known.csv"; tail -n +2 "$work/mixed-unknown.csv"; tail -n +2 "$work/mixed-new.csv"; } > "$work/mixed.csv"
  gen "$work/warmup.csv" --rows 20000 --shape ids --variant 9
  start_emulator single-grants 2000
  "$bench" bulk "$work/warmup.csv" --name warmup --directory warm > /dev/null
  measure grants "single-first-1000=$work/first.csv,single-known-1000=$work/known.csv,single-mixed-1000=$work/mixed.csv"
  stop_emulator
}

run_directory_store() {
  local rounds=${rounds:-2} store
  echo "== directory store: $rows rows to existing customers without emails, directory warm, SQLite then memory, $rounds rounds"
  gen "$work/warmup.csv" --rows 20000 --shape ids --variant 9
  gen "$work/compare.csv" --rows "$rows" --shape ids --variant 1
  for round in $(seq 1 "$rounds"); do
    echo "   round $round, load $(cut -d' ' -f1-3 /proc/loadavg)"
    for store in sqlite memory; do
      seeded_run "directory in $store" "$bench" "$work/compare.csv" --directory-store "$store"
    done
  done
}

# Issue #19: HTTP grant p95 with a sweep running, within 10 % of idle. Each limit on a fresh emulator that answers every
# request 75 ms late (Polar's own latency, about); enough customers that the sweep outlasts each 60 s phase.
run_p95() {
  local rounds=${rounds:-3} limit
  for limit in $limits; do
    if [ "$limit" = none ]; then
      echo "== p95: no request limit, $rate grants/s, $rounds rounds idle/sweep, load $(cut -d' ' -f1-3 /proc/loadavg)"
      start_emulator p95-unlimited 200000 --latency-ms 75
      measure latency "p95 no limit" --rounds "$rounds" --grants-per-second "$rate"
    elif [ "$limit" = 500-memory ]; then
      echo "== p95: 500 requests/minute, directory in memory, $rate grants/s, $rounds rounds idle/sweep, load $(cut -d' ' -f1-3 /proc/loadavg)"
      start_emulator p95-500-memory 100000 --latency-ms 75 --requests-per-minute 500
      measure latency "p95 at 500/min, directory in memory" --rounds "$rounds" --grants-per-second "$rate" --requests-per-minute 500 --directory-store memory
    else
      echo "== p95: $limit requests/minute, $rate grants/s, $rounds rounds idle/sweep, load $(cut -d' ' -f1-3 /proc/loadavg)"
      start_emulator "p95-$limit" 100000 --latency-ms 75 --requests-per-minute "$limit"
      measure latency "p95 at $limit/min" --rounds "$rounds" --grants-per-second "$rate" --requests-per-minute "$limit"
    fi
    stop_emulator
  done
}

echo "== machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2}') memory, $(dotnet --version) SDK, load $(cut -d' ' -f1-3 /proc/loadavg)"
case "$suite" in
  parse) run_parse ;;
  fast) run_fast ;;
  limited) run_limited ;;
  campaign) run_campaign ;;
  expiry) run_expiry ;;
  revoke) run_revoke ;;
  all) run_fast; run_limited ;;
  compare) run_compare ;;
  batch-sizes) run_batch_sizes ;;
  emails-cold) run_emails_cold ;;
  single-grants) run_single_grants ;;
  limited-emails) run_emails_cold limited-emails-100k-cold --requests-per-minute 500 ;;
  directory-store) run_directory_store ;;
  p95) run_p95 ;;
esac

echo
case "$suite" in
  compare|batch-sizes|directory-store) "$bench" compare "$results" ;;
  *) "$bench" report "$results" ;;
esac
echo "(results: $results)"
