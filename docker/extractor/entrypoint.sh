#!/bin/sh
# Entry point of the extractor image.
#   Lambda: the command is a handler ("module.function"): run it under the runtime interface client.
#   ECS / docker run: any other command (musiclake-extract ..., sh) runs as given.
set -eu

if [ "$#" -eq 0 ]; then
    set -- musiclake_extract.lambda_handler.handler
fi

case "$1" in
    */* | -*) ;;
    *.*)
        if ! command -v "$1" >/dev/null 2>&1; then
            exec python -m awslambdaric "$@"
        fi
        ;;
esac
exec "$@"
