#!/bin/sh
# Make sure a Chromium is present for the web page's browser tests, installing Debian's package
# when this user can; otherwise stop with one line saying what to run.
set -e
command -v chromium >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Chromium (apt-get install chromium) for the web page tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    exit 0
  fi
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "installing Chromium (sudo apt-get install chromium) for the web page tests"
    sudo -n apt-get update -qq && sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    exit 0
  fi
fi
echo "make test needs Chromium at /usr/bin/chromium for the web page tests: run 'sudo apt-get install chromium', then make test again" >&2
exit 1
