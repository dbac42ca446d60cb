#!/usr/bin/env bash
# Upload benchmark: ours vs @tus/server vs the disk. Options go to bench/upload_bench.py:
#   bash bench/run_upload_bench.sh --size 1GiB --rounds 5 [--memory-size 4GiB] [--threads 4]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d bench/node_modules/@tus/server ]; then
  echo "==> Installing the Node tus server and client into bench/node_modules"
  if [ -f bench/package-lock.json ]; then
    npm ci --prefix bench --silent --no-audit --no-fund
  else
    npm install --prefix bench --silent --no-audit --no-fund
  fi
fi
df -h "${TMPDIR:-/tmp}" | tail -1
exec .venv/bin/python bench/upload_bench.py "$@"
