#!/usr/bin/env bash
# Build the documentation site into site/ (or --site DIR) with `mkdocs build --strict`.
# The rule catalogue and the command line reference are generated during the build
# (docs/_hooks/generate.py) from the checked rule book and the example cases.
#
# Usage: scripts/build_docs.sh [--rules DIR] [--cases DIR] [--site DIR]
# Defaults: rules/ and cases/ of the repository (or $PASSENDEZORG_RULES / $PASSENDEZORG_CASES).
# Python: $PYTHON, else .venv/bin/python if it exists, else python3 (it needs `pip install -e ".[docs]"`).
set -euo pipefail

cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
SITE="site"

while [ $# -gt 0 ]; do
  case "$1" in
    --rules) export PASSENDEZORG_RULES="$2"; shift 2 ;;
    --cases) export PASSENDEZORG_CASES="$2"; shift 2 ;;
    --site) SITE="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "build_docs.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if ! "$PYTHON" -c "import material, passendezorg" 2>/dev/null; then
  echo "build_docs.sh: $PYTHON lacks mkdocs-material or passendezorg: run pip install -e \".[docs]\" first" >&2
  exit 2
fi
export NO_MKDOCS_2_WARNING=1
"$PYTHON" -m mkdocs build --strict --site-dir "$SITE"
echo "site built in $SITE"
