#!/usr/bin/env bash
# Runs the tests (every project, or one, optionally filtered) and ends with one line of totals:
# "N passed, N failed[, N skipped]". Starts the local services the tests need and stops them on exit, whatever happens.
set -uo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: bash scripts/test.sh [--project NAME] [--filter EXPR]

Builds (warnings are errors), starts Azurite on ports 10000-10002, runs the tests, stops Azurite, and ends
with one line: "N passed, N failed[, N skipped]". Exit code 0 when every test passed. When the tests cannot
start (those ports taken by another Azurite, npm missing) it runs none, says why, and exits 3 without a count. Needs the .NET SDK, Node.js and npm (npm ci installs Azurite, Polar's
TypeScript SDK and tsc for the emulator's SDK conformance tests, and the OpenAPI tools the tests run).

  --project NAME   run one test project: a folder of tests/ (CreditGrants.Cli.Tests, or CreditGrants.Cli);
                   default: every project of CreditFunctions.sln
  --filter EXPR    run only the tests that match a dotnet test filter, e.g. "FullyQualifiedName~Bulk"
                   or "Name=Grant_with_same_id_twice_grants_once"
  -h, --help       show this help

Examples:
  bash scripts/test.sh
  bash scripts/test.sh --project CreditGrants.Cli.Tests --filter "FullyQualifiedName~BulkRun"
USAGE
}

usage_error() {
  echo "scripts/test.sh: $1" >&2
  echo "Run 'bash scripts/test.sh --help' for usage." >&2
  exit 2
}

target=CreditFunctions.sln
filter=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --project|--filter)
      [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value."
      if [ "$1" = --project ]; then
        name=${2%/}; name=${name#tests/}
        [ -d "tests/$name" ] || name="$name.Tests"
        if [ ! -d "tests/$name" ]; then
          usage_error "no test project '$2'; the projects are: $(cd tests && ls -d */ | tr -d / | tr '\n' ' ')"
        fi
        target="tests/$name"
      else
        filter=(--filter "$2")
      fi
      shift 2 ;;
    --project=*|--filter=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
    *) usage_error "unknown argument '$1'." ;;
  esac
done

log_dir=$(mktemp -d)
azurite_pid=""

cleanup() {
  if [ -n "$azurite_pid" ]; then
    # Azurite shuts down on SIGTERM; one that has not within 10 seconds is killed. Its data goes after it.
    kill "$azurite_pid" 2>/dev/null
    for _ in $(seq 1 40); do
      kill -0 "$azurite_pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$azurite_pid" 2>/dev/null
    wait "$azurite_pid" 2>/dev/null
  fi
  rm -rf "$log_dir"
}
trap cleanup EXIT
# An interrupted run (Ctrl+C, CI's timeout) exits through the same cleanup.
trap 'exit 130' INT TERM

fail() {
  echo "$1"
  echo "0 passed, 1 failed"
  exit 1
}

# Nothing was tested: no count, which would read as a failing test.
cannot_start() {
  echo "$1 No test was run." >&2
  exit 3
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Azurite stands in for Azure Storage (blob 10000, queue 10001, table 10002); the tests reach it
# through UseDevelopmentStorage=true. Started before the build so that it is up by the time tests run.
echo "== Azurite (local Azure Storage)"
command -v npm > /dev/null || cannot_start "npm is not installed: the storage tests need Node.js and npm to run Azurite."
for port in 10000 10001 10002; do
  if port_open "$port"; then
    cannot_start "Port $port is already in use (another Azurite?). Stop whatever listens on ports 10000-10002 and run again."
  fi
done
if [ -f package-lock.json ]; then
  npm ci --silent --no-audit --no-fund > "$log_dir/npm.log" 2>&1
else
  npm install --silent --no-audit --no-fund > "$log_dir/npm.log" 2>&1
fi || { cat "$log_dir/npm.log"; fail "npm could not install the tools of package.json (Azurite, Polar's SDK, TypeScript, the OpenAPI tools; see above)."; }
mkdir -p "$log_dir/azurite"
# The installed bin itself (what `npx azurite` runs), so that $! is Azurite's own process and stopping it stops it.
./node_modules/.bin/azurite --silent --skipApiVersionCheck --loose --location "$log_dir/azurite" \
  --blobPort 10000 --queuePort 10001 --tablePort 10002 > "$log_dir/azurite.log" 2>&1 &
azurite_pid=$!

echo "== restore and build (warnings are errors)"
dotnet build "$target" -c Release -nologo -v quiet > "$log_dir/build.log" 2>&1
build_status=$?
grep -E "error|warning" "$log_dir/build.log" | grep -v "NU1603" | sort -u
if [ "$build_status" -ne 0 ]; then
  fail "build failed"
fi

for _ in $(seq 1 120); do
  port_open 10000 && port_open 10001 && port_open 10002 && break
  if ! kill -0 "$azurite_pid" 2>/dev/null; then
    cat "$log_dir/azurite.log"
    fail "Azurite stopped before it listened (see above)."
  fi
  sleep 0.5
done
if ! { port_open 10000 && port_open 10001 && port_open 10002; }; then
  cat "$log_dir/azurite.log"
  fail "Azurite did not listen on ports 10000-10002 within 60 seconds."
fi

echo "== tests"
dotnet test "$target" -c Release --no-build --nologo "${filter[@]}" 2>&1 | tee "$log_dir/test.log"
status=${PIPESTATUS[0]}

passed=0; failed=0; skipped=0
while read -r f p s; do
  failed=$((failed + f)); passed=$((passed + p)); skipped=$((skipped + s))
done < <(sed -nE 's/.*Failed:[[:space:]]*([0-9]+), Passed:[[:space:]]*([0-9]+), Skipped:[[:space:]]*([0-9]+).*/\1 \2 \3/p' "$log_dir/test.log")

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The runner failed without a failing test (a crash, a build break): count it as a failure.
  failed=1
fi

line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
