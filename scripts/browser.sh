#!/usr/bin/env bash
# Install the headless browser the report-page test drives (tests/test_report_page.py): Debian's chromium and
# chromium-driver, once (needs root; nothing is done when both are there). Without them the browser test skips,
# or fails when METTA_AB_REQUIRE_BROWSER=1 (.ci/run sets it).
set -euo pipefail
if command -v chromium > /dev/null && command -v chromedriver > /dev/null; then
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "scripts/browser.sh: chromium and chromium-driver are missing; installing them needs root (apt-get)." >&2
  exit 1
fi
echo "scripts/browser.sh: installing chromium and chromium-driver (apt-get)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver > /dev/null
