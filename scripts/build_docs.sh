#!/usr/bin/env bash
# Build the documentation site into site/ (or $SITE_DIR):
#   1. generate the rule catalogue (docs/catalogus/) from the checked rule book and its cases,
#   2. generate the command line reference (docs/reference/cli.md) from the click commands,
#   3. mkdocs build --strict.
#
# Usage: scripts/build_docs.sh [--rules DIR] [--cases DIR] [--site DIR]
# Defaults: rules/ and cases/ of the repository (or $PASSENDEZORG_RULES / $PASSENDEZORG_CASES).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
RULES="${PASSENDEZORG_RULES:-rules}"
CASES="${PASSENDEZORG_CASES:-cases}"
SITE="${SITE_DIR:-site}"

while [ $# -gt 0 ]; do
  case "$1" in
    --rules) RULES="$2"; shift 2 ;;
    --cases) CASES="$2"; shift 2 ;;
    --site) SITE="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "build_docs.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

cases_args=()
if [ -d "$CASES" ]; then
  cases_args=(--cases "$CASES")
fi

"$PYTHON" -m passendezorg.cli_docs --rules "$RULES" "${cases_args[@]}" \
  --out docs/catalogus --cli-reference docs/reference/cli.md
"$PYTHON" -m mkdocs build --strict --site-dir "$SITE"
echo "site built in $SITE"
