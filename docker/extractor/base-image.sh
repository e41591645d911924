#!/bin/sh
# Prints the base image of an image's Dockerfile as <image>:<tag>@sha256:<digest>, the value its build requires:
#
#   docker build -f docker/extractor/Dockerfile --build-arg PYTHON_IMAGE="$(docker/extractor/base-image.sh)" ...
#   docker/extractor/base-image.sh docker/serving/Dockerfile          (the serving image's)
#
# The tag is the Dockerfile's `ARG PYTHON_IMAGE=` default. The digest is the one pinned in base-image.digest next to the
# Dockerfile when that file exists: the image is pulled by it, and Docker verifies the content against it, so a
# re-pushed tag changes nothing. Without that file the tag's current digest is resolved (pulled, then read from the
# local image's RepoDigests): the build is still by digest and the digest is printed on stderr and recorded in the
# image's org.opencontainers.image.base.name label, but a re-pushed tag changes the next build. Pin it with
#   docker/extractor/base-image.sh [Dockerfile] | sed 's/.*@//' > <Dockerfile dir>/base-image.digest
# Needs Docker and the registry (Docker Hub for python:*). Diagnostics on stderr, the reference on stdout.
set -eu

dockerfile="${1:-docker/extractor/Dockerfile}"
tag="$(sed -n 's/^ARG PYTHON_IMAGE=//p' "$dockerfile" | head -n 1)"
if [ -z "$tag" ]; then
    echo "base-image.sh: $dockerfile has no 'ARG PYTHON_IMAGE=<image>:<tag>' line" >&2
    exit 2
fi
pin="$(dirname "$dockerfile")/base-image.digest"
if [ -f "$pin" ]; then
    digest="$(tr -d ' \t\r\n' < "$pin")"
    docker pull --quiet "$tag@$digest" >&2
    echo "base-image.sh: $tag pinned at $digest ($pin), pulled and verified" >&2
else
    docker pull --quiet "$tag" >&2
    digest="$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$tag" \
        | sed -n 's/^[^@]*@//p' | head -n 1)"
    echo "base-image.sh: $tag is not pinned ($pin absent): building on its current digest $digest" >&2
fi
if ! printf '%s\n' "$digest" | grep -Eq '^sha256:[0-9a-f]{64}$'; then
    echo "base-image.sh: '$digest' is not a sha256 digest" >&2
    exit 1
fi
printf '%s@%s\n' "$tag" "$digest"
