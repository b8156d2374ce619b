#!/usr/bin/env bash
# Runs every test of the solution and ends with one line of totals: "N passed, N failed[, N skipped]".
# Starts the local services the tests need and stops them on exit, whatever happens.
set -uo pipefail
cd "$(dirname "$0")/.."

log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

echo "== restore and build (warnings are errors)"
dotnet build CreditFunctions.sln -c Release -nologo -v quiet > "$log_dir/build.log" 2>&1
build_status=$?
grep -E "error|warning" "$log_dir/build.log" | grep -v "NU1603" | sort -u
if [ "$build_status" -ne 0 ]; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== tests"
dotnet test CreditFunctions.sln -c Release --no-build --nologo 2>&1 | tee "$log_dir/test.log"
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
