#!/usr/bin/env bash
# Checks (and as root installs) what the machine itself must provide: Python 3.11, Java 17, Maven, and Chromium
# (headless, for the test that renders `musiclake report` in a browser; Playwright drives it, no browser download).
# Everything else (the virtualenv, the Spark jars) is installed by `make` from the project's own files.
set -euo pipefail

need_apt=()
command -v python3.11 >/dev/null 2>&1 || need_apt+=(python3.11 python3.11-venv)
# the one Java 17 lookup (standard library only, runs before any virtualenv exists)
python3.11 "$(dirname "$0")/../lib/musiclake/java17.py" >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need_apt+=(chromium)

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing ${need_apt[*]} with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "bootstrap: missing system packages: ${need_apt[*]}" >&2
    echo "bootstrap: install them (e.g. sudo apt-get install ${need_apt[*]}) and run make again." >&2
    exit 1
  fi
fi
