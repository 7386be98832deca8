#!/usr/bin/env bash
# Local PostgreSQL, Redis and S3 (SeaweedFS) without Docker: scripts/services.sh up|down|status|env|install
# (see --help). Runs the project's .venv/bin/python when there is one, so boto3 and the `weed` that pip put
# there are found; otherwise the system's python3 (devservices.py needs only the standard library).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python=python3
if [ -x "$here/../.venv/bin/python" ]; then
  python="$here/../.venv/bin/python"
fi
exec "$python" "$here/devservices.py" "$@"
