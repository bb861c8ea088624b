#!/usr/bin/env bash
# CI for the documentation site: build it from the rule book (catalogue and CLI reference
# generated fresh, mkdocs build --strict), then open it in headless Chromium and check that
# the catalogue renders. The screenshots are kept in artefacts/ (not in git).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q -e ".[docs]"
fi

export NO_MKDOCS_2_WARNING=1
PYTHON=.venv/bin/python scripts/build_docs.sh
.venv/bin/python scripts/browser_check.py --site site --artefacts artefacts
