# musiclake: the two commands of the README are `make demo` and `make test`.
# Each sets everything up on a fresh clone (virtualenv, Spark jars) and then runs.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Lint tools for deploy/ (checkov pins boto3 etc. apart from the Glue 5.1 pins): a venv of their own.
TOOLS_VENV ?= .venv-tools
export MUSICLAKE_JARS_DIR ?= $(HOME)/.cache/musiclake/jars
# Spark 3.5 / Glue 5.1 run on Java 17: pick it explicitly, whatever the machine's default java is.
# The one lookup is lib/musiclake/java17.py (standard library only: it runs before the virtualenv exists).
export JAVA_HOME := $(or $(shell $(PYTHON) lib/musiclake/java17.py 2>/dev/null),$(JAVA_HOME))
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYTHONUNBUFFERED := 1

.PHONY: setup venv jars tools demo test test-fast bench lint lint-deploy wheel clean help

help:
	@echo "make demo   - set up, then run the pipeline end to end on embedded data (no AWS/Spotify account)"
	@echo "make test   - set up, then run the whole test suite"
	@echo "make test-fast - the edit loop: every test that needs no JVM plus the quick Spark transform tests"
	@echo "make lint   - ruff;  make wheel - build the versioned wheel for Glue (dist/);  make clean"
	@echo "make bench  - benchmarks (ETL vs DuckDB, ALS vs implicit, extractor): figures appended to BENCHMARKS.md"
	@echo "             sizes: make bench BENCH_SIZES=1000,10000 (playlists); data under /tmp/musiclake-bench"
	@echo "             BENCH_REPEAT=3: the ETL's medians of 3 more alternating runs (this machine's speed drifts)"
	@echo "make lint-deploy - cfn-lint, checkov, hadolint on deploy/ and docker/ (tools in $(TOOLS_VENV))"

setup: venv jars

venv: $(VENV)/.installed
# The Glue wheel's package with every extra, the simulator (sim/) and the deploy tool (deploy/), all editable,
# at the exact versions of requirements/constraints.txt (the spark extra pins the Glue 5.1 runtime).
$(VENV)/.installed: setup.py sim/setup.py deploy/setup.py requirements/constraints.txt lib/musiclake/VERSION
	@scripts/bootstrap.sh
	@echo "==> creating $(VENV): musiclake[spark,extract,dev,query,report,serve,bench] (Glue 5.1), musiclake-sim, musiclake-deploy"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3 setuptools==80.9.0 wheel==0.45.1
	$(BIN)/pip install --quiet --progress-bar off -c requirements/constraints.txt \
		-e '.[spark,extract,dev,query,report,serve,bench]' -e sim -e deploy
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

tools: $(TOOLS_VENV)/.installed
$(TOOLS_VENV)/.installed: deploy/requirements-lint.txt
	@echo "==> creating $(TOOLS_VENV) with the pinned lint tools (cfn-lint, checkov, hadolint)"
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(TOOLS_VENV)/bin/pip install --quiet --progress-bar off -r deploy/requirements-lint.txt
	@touch $@

lint-deploy: tools
	$(TOOLS_VENV)/bin/cfn-lint deploy/cloudformation/*.yaml
	$(TOOLS_VENV)/bin/checkov --quiet --compact --skip-download -d deploy/cloudformation --framework cloudformation
	$(TOOLS_VENV)/bin/checkov --quiet --compact --skip-download -d docker --framework dockerfile
	$(TOOLS_VENV)/bin/hadolint docker/extractor/Dockerfile
	$(TOOLS_VENV)/bin/hadolint docker/serving/Dockerfile

# Benchmarks (bench/): not part of `make test`. Each script prints its figures and appends them to BENCHMARKS.md.
BENCH_SIZES ?= 1000,10000
BENCH_REPEAT ?= 1
bench: setup
	$(BIN)/python bench/extract_bench.py
	$(BIN)/python bench/etl_bench.py --sizes $(BENCH_SIZES) --repeat $(BENCH_REPEAT)
	$(BIN)/python bench/als_compare.py --sizes $(BENCH_SIZES)
	$(BIN)/python bench/als_iteration.py --size 10000

demo: setup
	$(BIN)/python -m musiclake_sim.demo

test: setup tools
	$(BIN)/pytest

# The edit loop (under 3 minutes): tests marked jvm by tests/conftest.py are left out, except the quick Spark
# transform modules marked fast. It needs no lint tools venv: without one the deploy lint tests skip.
test-fast: setup
	MUSICLAKE_DEPLOY_TOOLS=skip $(BIN)/pytest -m "not jvm or fast"

lint: venv
	$(BIN)/ruff check lib extract sim deploy glue_jobs tests bench

wheel: venv
	rm -rf build  # setuptools reuses build/lib: a stale copy of a moved module would ship again
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .
	@ls dist/*.whl

clean:
	rm -rf .musiclake build dist *.egg-info lib/*.egg-info sim/build sim/*.egg-info deploy/build deploy/*.egg-info $(TOOLS_VENV)
