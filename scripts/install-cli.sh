#!/usr/bin/env bash
# Packs the `credits` CLI as a .NET tool and installs it for this user, so `credits` runs from any folder:
#   bash scripts/install-cli.sh                   # dotnet tool install --global (~/.dotnet/tools)
#   bash scripts/install-cli.sh --tool-path DIR   # into DIR instead
# Running it again installs the current sources over the installed version.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  "") where=(--global) ;;
  --tool-path) [ -n "${2:-}" ] || { echo "install-cli.sh: --tool-path needs a folder." >&2; exit 2; }; where=(--tool-path "$2") ;;
  -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "install-cli.sh: unknown argument '$1' (see --help)." >&2; exit 2 ;;
esac

# Each pack gets a newer version, so that the install never takes an older copy from NuGet's package cache.
version="1.0.0-dev.$(date -u +%Y%m%d%H%M%S)"
packages=artifacts/packages
rm -f "$packages"/CreditGrants.Cli.*.nupkg
# Built under artifacts/tool (--artifacts-path), apart from the clone's own bin/ and obj/ that ./credits and the tests use;
# only the package's version changes from one install to the next, so a second install compiles only what changed.
dotnet pack src/CreditGrants.Cli -c Release -nologo -v quiet -clp:NoSummary --artifacts-path artifacts/tool \
  -p:PackageVersion="$version" -o "$packages"
# `update` installs the tool when it is missing and replaces it when it is there.
dotnet tool update "${where[@]}" --add-source "$packages" --version "$version" CreditGrants.Cli
