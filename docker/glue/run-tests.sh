#!/usr/bin/env bash
# Run the test suite inside the official AWS Glue 5.1 image (Spark 3.5.6, Python 3.11, Java 17), the way
# CodeBuild does. Needs a Docker engine. The Spark jars are resolved on the host first (`make jars`) and mounted,
# so the image needs no Maven; the image's own pyspark is used (the `spark` extra is not installed there).
# The lint tools of tests/deploy (cfn-lint, checkov, hadolint in .venv-tools) are not installed in the image: those
# checks are skipped there (MUSICLAKE_DEPLOY_TOOLS=skip) and run on the build host by `make lint-deploy` instead;
# nor is Chromium, so the browser render test of `musiclake report` runs on the build host only
# (MUSICLAKE_BROWSER_TESTS=skip here).
#
#   docker/glue/run-tests.sh                 # whole suite
#   docker/glue/run-tests.sh -m "not slow"   # extra pytest arguments
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE="${GLUE_IMAGE:-public.ecr.aws/glue/aws-glue-libs:5}"
JARS="${MUSICLAKE_JARS_DIR:-$HOME/.cache/musiclake/jars}"
make jars
mkdir -p test-reports
docker run --rm -i \
  -v "$PWD":/home/hadoop/workspace -v "$JARS":/home/hadoop/jars:ro \
  --workdir /home/hadoop/workspace \
  -e MUSICLAKE_JARS_DIR=/home/hadoop/jars -e MUSICLAKE_RUNTIME=local -e DISABLE_SSL=true \
  -e MUSICLAKE_DEPLOY_TOOLS=skip -e MUSICLAKE_BROWSER_TESTS=skip \
  "$IMAGE" -c "python3 -m pip install --user --quiet -e '.[extract,dev,query,report,serve]' -e sim -e deploy 'AWSGlueDataplanePython==5.1.0' \
    && python3 -m pytest --junitxml=test-reports/junit.xml $*"
