#!/usr/bin/env bash
# CI for the documentation site: build it with `mkdocs build --strict` (the rule catalogue, the
# command line reference and an example simulation report are generated fresh by the build), then
# open it in headless Chromium (Debian's package, installed here if missing) and check what a reader
# meets: a rule's title and source link, highlighted rule code (also in the language reference),
# every exception diagram drawn by mermaid with the whole text of each box inside it, no table wider
# than its column, `lang="nl"` on the Dutch catalogue, the offline search, and the simulation
# report's charts and changed claims side by side (scripts/browser_check.py says how).
# The screenshots are kept in artefacts/ (not in git). Any failure stops the script with exit 1.
#
# Expects .venv with `pip install -e ".[dev]"` (or ".[docs]"); creates it if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "docs CI FAILED: $*" >&2; exit 1; }
seconds() { echo $(( $(date +%s) - $1 )); }

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  start=$(date +%s)
  apt-get update -qq || fail "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || fail "could not install Debian's chromium package"
  echo "docs: installed chromium in $(seconds "$start") s"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q -e ".[docs]"
fi
.venv/bin/python -c "import material" 2>/dev/null || fail ".venv has no mkdocs-material: pip install -e '.[dev]'"

start=$(date +%s)
PYTHON=.venv/bin/python scripts/build_docs.sh --site site || fail "mkdocs build --strict (see above)"
echo "docs: site built in $(seconds "$start") s"

start=$(date +%s)
.venv/bin/python scripts/browser_check.py --site site --artefacts artefacts || fail "browser check (see above)"
echo "docs: browser check done in $(seconds "$start") s"
