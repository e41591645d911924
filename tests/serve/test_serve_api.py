"""The HTTP API's contract (FastAPI's TestClient): status codes, bodies, errors that name the field."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient
from serve_lake import VERSION

from musiclake.serve.app import MAX_BODY_BYTES, create_app
from musiclake.serve.holder import ModelHolder
from musiclake.serve.load import load_model


@pytest.fixture(scope="module")
def client(tiny_lake):
    with TestClient(create_app(str(tiny_lake))) as client:
        yield client


def _no_trace(response) -> None:
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_a_known_playlist_gets_its_recommendations_with_names(client):
    response = client.get("/v1/playlists/mpd:0/recommendations", params={"k": 2})

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("playlist_id", "playlist_name", "model_version", "source", "k", "notes")} == {
        "playlist_id": "mpd:0", "playlist_name": "List 0", "model_version": VERSION, "source": "als", "k": 2,
        "notes": []}
    assert [(t["rank"], t["track_id"], t["track_name"], t["artist_name"]) for t in body["tracks"]] == [
        (1, "t1", "Song 1", "artist 1"), (2, "t4", "Song 4", "artist 4")]
    assert body["tracks"][0]["score"] == pytest.approx(0.9)


def test_k_defaults_to_20_and_never_returns_a_playlists_own_tracks(client):
    body = client.get("/v1/playlists/mpd:1/recommendations").json()

    assert body["k"] == 20 and {t["track_id"] for t in body["tracks"]} == {"t0", "t1", "t4", "t5"}


def test_an_unknown_playlist_is_a_404_naming_the_field(client):
    response = client.get("/v1/playlists/mpd:999/recommendations")

    assert response.status_code == 404
    body = response.json()
    assert body["detail"] == f"playlist mpd:999 is unknown to model v={VERSION}"
    assert body["errors"][0]["field"] == "playlist_id" and body["errors"][0]["in"] == "path"
    _no_trace(response)


@pytest.mark.parametrize("k", ["0", "501", "-3", "ten", "2.5"])
def test_k_outside_1_to_500_is_a_422_naming_k(client, k):
    response = client.get("/v1/playlists/mpd:0/recommendations", params={"k": k})

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["field"], e["in"]) for e in errors] == [("k", "query")]
    assert response.json()["detail"].startswith("k: ")
    _no_trace(response)


def test_seed_tracks_are_folded_in_and_unknown_ones_listed(client):
    response = client.post("/v1/recommendations",
                           json={"track_ids": ["t0", "spotify:track:nope", "t0"], "k": 3})

    assert response.status_code == 200
    body = response.json()
    assert (body["source"], body["k"], body["used_track_ids"], body["unknown_track_ids"]) == (
        "fold-in", 3, ["t0"], ["nope"])
    assert len(body["tracks"]) == 3 and "t0" not in {t["track_id"] for t in body["tracks"]}
    assert body["notes"] == ["unknown to the model, ignored: nope"]


def test_only_unknown_seeds_get_the_popular_tracks_not_among_them(client):
    body = client.post("/v1/recommendations", json={"track_ids": ["x", "y"], "k": 2}).json()

    assert body["source"] == "popularity" and body["unknown_track_ids"] == ["x", "y"]
    assert [(t["track_id"], t["track_name"]) for t in body["tracks"]] == [("t0", "Song 0"), ("t2", "Song 2")]


@pytest.mark.parametrize(("body", "field"), [
    ({"track_ids": ["t0"] * 501}, "track_ids"),
    ({"track_ids": []}, "track_ids"),
    ({}, "track_ids"),
    ({"track_ids": ["t0", ""]}, "track_ids[1]"),
    ({"track_ids": ["t0"], "k": 0}, "k"),
    ({"track_ids": "t0"}, "track_ids"),
])
def test_bad_seed_requests_are_422_naming_the_field(client, body, field):
    response = client.post("/v1/recommendations", json=body)

    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    _no_trace(response)


def test_a_body_that_is_not_json_is_a_422(client):
    response = client.post("/v1/recommendations", content=b"{not json", headers={"content-type": "application/json"})

    assert response.status_code == 422 and response.json()["errors"][0]["in"] == "body"
    _no_trace(response)


def test_an_oversized_body_is_a_413(client):
    response = client.post("/v1/recommendations", content=b"x" * (MAX_BODY_BYTES + 1),
                           headers={"content-type": "application/json"})

    assert response.status_code == 413 and response.json()["errors"][0]["field"] == "body"


def test_similar_tracks_and_a_404_for_an_unknown_track(client):
    ok = client.get("/v1/tracks/t1/similar", params={"k": 2})
    missing = client.get("/v1/tracks/nope/similar")

    assert ok.status_code == 200
    body = ok.json()
    assert (body["track_id"], body["track_name"], body["artist_name"], body["k"]) == ("t1", "Song 1", "artist 1", 2)
    assert [t["track_id"] for t in body["tracks"]] == ["t0", "t4"] and 0.99 < body["tracks"][0]["similarity"] <= 1
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "track_id"


def test_the_model_endpoint_describes_the_served_model(client):
    body = client.get("/v1/model").json()

    assert (body["version"], body["rank"], body["playlists"], body["tracks"]) == (VERSION, 2, 4, 6)
    assert body["params"]["alpha"] == 10.0 and body["input"]["format"] == "delta" and "path" not in body["input"]


def test_healthz_and_the_openapi_description(client):
    assert client.get("/healthz").json() == {"status": "ok", "model_version": VERSION}
    spec = client.get("/openapi.json").json()
    assert {"/v1/playlists/{playlist_id}/recommendations", "/v1/recommendations", "/v1/tracks/{track_id}/similar",
            "/v1/model", "/healthz"} <= set(spec["paths"])
    assert "422" in spec["paths"]["/v1/recommendations"]["post"]["responses"]
    assert client.get("/docs").status_code == 200


def test_unknown_routes_are_json_404s(client):
    response = client.get("/v2/nothing")

    assert response.status_code == 404 and response.json() == {"detail": "Not Found", "errors": []}


def test_without_a_model_every_answer_is_a_503_and_healthz_says_so(tmp_path):
    with TestClient(create_app(str(tmp_path / "no-lake"))) as client:
        health = client.get("/healthz")
        recommendations = client.get("/v1/playlists/mpd:0/recommendations")

    assert health.status_code == 503 and health.json() == {"status": "no model", "model_version": None}
    assert recommendations.status_code == 503 and "train_als" in recommendations.json()["detail"]
    _no_trace(recommendations)


def test_an_internal_failure_is_a_500_without_a_stack_trace(tiny_lake):
    def broken(lake: str, path: str | None):  # a model whose metadata lost its parameters: the fold-in fails
        model = load_model(lake, path)
        return dataclasses.replace(model, metadata={**model.metadata, "params": None})

    holder = ModelHolder(str(tiny_lake), loader=broken)
    with TestClient(create_app(str(tiny_lake), holder=holder), raise_server_exceptions=False) as client:
        response = client.post("/v1/recommendations", json={"track_ids": ["t0"]})

    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error (logged)", "errors": []}
    _no_trace(response)
