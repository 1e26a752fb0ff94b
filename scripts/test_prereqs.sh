#!/usr/bin/env bash
# What `make test` needs beyond Python, checked before anything slow runs:
#   Chromium, for the browser tests (Debian's chromium, or Playwright's own Chromium when present);
#   npm, for the offline JavaScript the browser tests read the book with (scripts/vendor_js.sh).
# Missing ones are installed from Debian when this user can (root, or sudo without a password),
# as .ci/run does; otherwise it fails at once with one line naming the command to run.
set -uo pipefail
venv=${1:-.venv}

have_chromium() {
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
    [ -x "$venv/bin/chromium" ]
}

if ! have_chromium; then
  # Playwright's own Chromium (`python -m playwright install chromium`): link it where the tests
  # look for `chromium` (the Makefile puts $venv/bin first on PATH for the tests).
  own=$(ls -d "${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}"/chromium-*/chrome-linux*/chrome 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$own" ]; then
    mkdir -p "$venv/bin" && ln -sf "$own" "$venv/bin/chromium"
  fi
fi

need=()
have_chromium || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo -n"
if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || sudo -n true 2>/dev/null; }; then
  echo "make test: installing ${need[*]} from Debian for the browser tests"
  if DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null; then
    exit 0
  fi
fi
echo "make test: the browser tests need ${need[*]}: run \`sudo apt-get install ${need[*]}\`" \
  "(for Chromium alone, \`$venv/bin/python -m playwright install chromium\` also works)" >&2
exit 1
