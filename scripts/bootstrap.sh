#!/usr/bin/env bash
# Checks (and as root installs) what the machine itself must provide: Python 3.11, Java 17, Maven, and Chromium
# (headless, for the test that renders `musiclake report` in a browser; Playwright drives it, no browser download).
# Also, when it can, a native BLAS/LAPACK (OpenBLAS as libblas.so.3/liblapack.so.3): Spark's ALS then solves its
# normal equations natively instead of in Java (optional; without it everything works, fits are slower).
# Everything else (the virtualenv, the Spark jars) is installed by `make` from the project's own files.
set -euo pipefail

need_apt=()
command -v python3.11 >/dev/null 2>&1 || need_apt+=(python3.11 python3.11-venv)
# the one Java 17 lookup (standard library only, runs before any virtualenv exists)
python3.11 "$(dirname "$0")/../lib/musiclake/java17.py" >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need_apt+=(chromium)

can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=""
apt_install() {  # apt_install PACKAGE...: one `apt-get update` per run, then the packages
  if [ -z "$apt_updated" ]; then apt-get update -qq && apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

want_apt=()
if command -v ldconfig >/dev/null 2>&1 && ! ldconfig -p 2>/dev/null | grep -q 'libblas\.so\.3 '; then
  want_apt+=(libopenblas0-pthread)
fi
if [ ${#want_apt[@]} -gt 0 ]; then
  if can_apt; then
    echo "bootstrap: installing ${want_apt[*]} with apt-get (native BLAS for Spark's ALS)" >&2
    apt_install "${want_apt[@]}" \
      || echo "bootstrap: could not install ${want_apt[*]}; Spark's ALS will use Java BLAS (slower)" >&2
  else
    echo "bootstrap: no native BLAS (libblas.so.3): Spark's ALS will use Java BLAS; for faster fits:" \
      "sudo apt-get install ${want_apt[*]}" >&2
  fi
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  if can_apt; then
    echo "bootstrap: installing ${need_apt[*]} with apt-get" >&2
    apt_install "${need_apt[@]}"
  else
    echo "bootstrap: missing system packages: ${need_apt[*]}" >&2
    echo "bootstrap: install them (e.g. sudo apt-get install ${need_apt[*]}) and run make again." >&2
    exit 1
  fi
fi
