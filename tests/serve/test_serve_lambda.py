"""The Lambda entry point: the same app behind Mangum, answering function URL events (payload format 2.0)."""

from __future__ import annotations

import base64
import json

import pytest
from serve_lake import VERSION

from musiclake.serve import lambda_app


def _function_url_event(method: str, path: str, query: str = "", body: dict | None = None) -> dict:
    host = "abcdefghij.lambda-url.eu-west-1.on.aws"
    encoded = json.dumps(body).encode() if body is not None else b""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {"host": host, "content-type": "application/json", "x-forwarded-proto": "https",
                    "x-forwarded-port": "443", "x-forwarded-for": "203.0.113.7"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abcdefghij", "domainName": host, "domainPrefix": "abcdefghij",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7",
                     "userAgent": "pytest"},
            "requestId": "request-1", "routeKey": "$default", "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "body": base64.b64encode(encoded).decode() if encoded else None, "isBase64Encoded": bool(encoded),
    }


@pytest.fixture(scope="module")
def handler(tiny_lake):
    return lambda_app.build_handler({"MUSICLAKE_LAKE_PATH": str(tiny_lake), "MUSICLAKE_MODEL_CHECK_SECONDS": "0"})


def test_a_function_url_get_is_answered_by_the_api(handler):
    answer = handler(_function_url_event("GET", "/v1/playlists/mpd:0/recommendations", "k=2"), None)

    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["model_version"] == VERSION and [t["track_id"] for t in body["tracks"]] == ["t1", "t4"]


def test_a_function_url_post_folds_in_seed_tracks(handler):
    answer = handler(_function_url_event("POST", "/v1/recommendations", body={"track_ids": ["t0", "x"], "k": 1}),
                     None)

    assert answer["statusCode"] == 200 and json.loads(answer["body"])["unknown_track_ids"] == ["x"]


def test_errors_keep_their_status_and_json_body(handler):
    answer = handler(_function_url_event("GET", "/v1/playlists/mpd:0/recommendations", "k=9999"), None)

    assert answer["statusCode"] == 422 and json.loads(answer["body"])["errors"][0]["field"] == "k"


def test_the_lake_path_must_be_configured():
    with pytest.raises(KeyError, match="MUSICLAKE_LAKE_PATH"):
        lambda_app.build_handler({})
