# musiclake: the two commands of the README are `make demo` and `make test`.
# Each sets everything up on a fresh clone (virtualenv, Spark jars) and then runs.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export MUSICLAKE_JARS_DIR ?= $(HOME)/.cache/musiclake/jars
# Spark 3.5 / Glue 5.1 run on Java 17: pick it explicitly, whatever the machine's default java is.
export JAVA_HOME := $(or $(shell for d in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64 /usr/lib/jvm/*17*; do \
	[ -x $$d/bin/java ] && grep -q 'JAVA_VERSION="17' $$d/release 2>/dev/null && echo $$d && break; done),$(JAVA_HOME))
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYTHONUNBUFFERED := 1

.PHONY: setup venv jars demo test lint wheel clean help

help:
	@echo "make demo   - set up, then run the pipeline end to end on embedded data (no AWS/Spotify account)"
	@echo "make test   - set up, then run the whole test suite"
	@echo "make lint   - ruff;  make wheel - build the versioned wheel for Glue;  make clean"

setup: venv jars

venv: $(VENV)/.installed
$(VENV)/.installed: setup.py lib/musiclake/VERSION
	@scripts/bootstrap.sh
	@echo "==> creating $(VENV) and installing musiclake[spark,extract,dev] (pinned to Glue 5.1)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3 setuptools==80.9.0 wheel==0.45.1
	$(BIN)/pip install --quiet --progress-bar off -e '.[spark,extract,dev]'
	@touch $@

jars: $(MUSICLAKE_JARS_DIR)/.complete
$(MUSICLAKE_JARS_DIR)/.complete: jars/pom.xml
	@scripts/bootstrap.sh
	@echo "==> resolving Spark jars (Delta 3.3.2, hadoop-aws 3.3.4, AWS SDK bundle) from Maven Central into $(MUSICLAKE_JARS_DIR)"
	@mkdir -p $(MUSICLAKE_JARS_DIR)
	@mvn -B -q -f jars/pom.xml dependency:copy-dependencies -DexcludeTransitive=true \
		-DoutputDirectory=$(MUSICLAKE_JARS_DIR) || { \
		echo "jar resolution failed: check that Maven can reach Maven Central (proxy settings in ~/.m2/settings.xml)," >&2; \
		echo "then run 'make jars' again; or copy the jars named in jars/pom.xml into $(MUSICLAKE_JARS_DIR)." >&2; exit 1; }
	@touch $@

demo: setup
	$(BIN)/python -m musiclake.demo

test: setup
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check lib extract glue_jobs tests

wheel: venv
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .
	@ls dist/*.whl

clean:
	rm -rf .musiclake build dist *.egg-info lib/*.egg-info
