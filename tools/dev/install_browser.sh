#!/usr/bin/env bash
# The browser for the web demo's end-to-end test
# (tests/test_tools/test_demo_browser.py): Debian's chromium and
# chromium-driver, driven through Selenium. Called by tools/run_tests.sh
# (the quick start needs no browser).
# Does nothing when both are installed; installs them with apt-get when run
# as root where apt-get exists (CI: a fresh Debian machine, as root);
# otherwise only says how, and the test is skipped (except on CI, CI=true,
# where it fails).
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "uagit_mm: chromium/chromedriver not found; the browser test of the" \
        "demo is skipped (install Debian's chromium and chromium-driver," \
        "or any chromium with its chromedriver on PATH)" >&2
    exit 0
fi
echo "uagit_mm: installing chromium and chromium-driver (apt-get)"
if ! { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends chromium chromium-driver >/dev/null; }; then
    echo "uagit_mm: could not install chromium and chromium-driver" >&2
    # on CI the browser test must run; elsewhere it is skipped
    [ "${CI:-}" = true ] && exit 1
fi
exit 0
