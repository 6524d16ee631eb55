#!/usr/bin/env bash
# Headless Chromium for the console's browser tests (console/browser_test.go,
# chromedp): Debian's chromium at /usr/bin/chromium, where the tests look for
# it (PREENROLL_CHROMIUM overrides), with fonts so that the screenshots are
# readable. Run as root on Debian; called by .ci/run. Under CI=true the tests
# fail, not skip, when Chromium is missing.
set -euo pipefail
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	chromium fonts-dejavu-core fonts-liberation
/usr/bin/chromium --version
