#!/usr/bin/env bash
# Installs the test clients that come from the npm registry (the AWS SDK for JavaScript v3,
# pinned in tests/e2e/js/package-lock.json). Debian packages come from scripts/deps.sh.
set -euo pipefail
cd "$(dirname "$0")/../tests/e2e/js"
npm ci --no-audit --no-fund --loglevel=error
# Playwright (playwright-core drives Debian's /usr/bin/chromium) for the viewer's browser test
cd ../browser
npm ci --no-audit --no-fund --loglevel=error
