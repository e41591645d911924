"""The HTTP JSON API (FastAPI): recommendations, fold-in, similar tracks and the model, from a loaded model.

=========================================================  =========================================================
``GET  /v1/playlists/{playlist_id}/recommendations?k=``    a trained playlist's top ``k`` (its own tracks excluded)
``POST /v1/recommendations``  ``{"track_ids": [...], "k"}``  a new playlist folded in from seed tracks
``GET  /v1/tracks/{track_id}/similar?k=``                  nearest tracks by cosine of the item factors
``GET  /v1/model``                                          version, parameters, evaluation of the served model
``GET  /healthz``                                           200 with the model version, 503 while there is none
``GET  /docs``, ``/openapi.json``                           the OpenAPI description
=========================================================  =========================================================

Errors are JSON ``{"detail": "...", "errors": [{"field": "k", "in": "query", "message": "..."}]}`` naming the
field: 404 unknown playlist or track, 422 invalid input (``k`` outside 1..500, more than 500 seeds), 413 a body
over 256 KiB, 503 no model yet; a failure inside is a 500 with no stack trace in the answer (it goes to the log).

Concurrent requests are scored together (:class:`~musiclake.serve.scoring.BatchScorer`), and a newly trained model
version is picked up without a restart (:class:`~musiclake.serve.holder.ModelHolder`).
"""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import musiclake
from musiclake.serve import recommend
from musiclake.serve.holder import ModelHolder, NoModelError
from musiclake.serve.model import Model
from musiclake.serve.recommend import Pending, Served, UnknownTrackError
from musiclake.serve.scoring import MAX_BATCH, BatchScorer

log = logging.getLogger("musiclake.serve.app")

MAX_K = 500
DEFAULT_K = 20
MAX_SEEDS = 500
MAX_ID_LENGTH = 200
MAX_BODY_BYTES = 256 * 1024

TrackReference = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]
K = Annotated[int, Query(ge=1, le=MAX_K, description=f"number of tracks, 1..{MAX_K}")]


# --- the JSON shapes (they make the OpenAPI description) ------------------------------------------------------------

class Track(BaseModel):
    rank: int = Field(description="1 = best")
    track_id: str
    track_name: str | None = Field(description="from the lake's tracks table (null when absent)")
    artist_name: str | None
    score: float = Field(description="ALS preference (dot product of factors); popularity: number of playlists")


class PlaylistRecommendations(BaseModel):
    playlist_id: str
    playlist_name: str | None
    model_version: str
    source: str = Field(description="als")
    k: int
    tracks: list[Track]
    notes: list[str]


class SeedTracks(BaseModel):
    track_ids: list[TrackReference] = Field(
        min_length=1, max_length=MAX_SEEDS,
        description="seed tracks of a new playlist: Spotify track ids, spotify:track: URIs or open.spotify.com "
        "links; a track listed twice weighs twice",
        examples=[["4uLU6hMCjMI75M1A2tKUQC", "spotify:track:7GhIk7Il098yCjg4BQjzvb"]],
    )
    k: int = Field(default=DEFAULT_K, ge=1, le=MAX_K, description=f"number of tracks, 1..{MAX_K}")


class SeedRecommendations(BaseModel):
    model_version: str
    source: str = Field(description="fold-in, or popularity when no seed is known to the model")
    k: int
    used_track_ids: list[str] = Field(description="the seeds folded in")
    unknown_track_ids: list[str] = Field(description="seeds the model does not know (ignored)")
    tracks: list[Track]
    notes: list[str]


class SimilarTrack(BaseModel):
    rank: int
    track_id: str
    track_name: str | None
    artist_name: str | None
    similarity: float = Field(description="cosine similarity of the ALS item factors, in [-1, 1]")


class SimilarTracks(BaseModel):
    track_id: str
    track_name: str | None
    artist_name: str | None
    model_version: str
    k: int
    tracks: list[SimilarTrack]


class ModelInfo(BaseModel):
    version: str
    created_at: str | None
    loaded_at: str
    rank: int
    params: dict[str, Any]
    implicit_prefs: bool | None
    playlists: int = Field(description="playlists with factors")
    tracks: int = Field(description="tracks with factors")
    input: dict[str, Any] = Field(description="training input: format, Delta version, counts")
    evaluation: dict[str, Any] | None = Field(description="holdout metrics of ALS and the popularity baseline")
    musiclake_version: str | None


class Health(BaseModel):
    status: str
    model_version: str | None


class ErrorField(BaseModel):
    field: str
    in_: str = Field(alias="in", description="path, query or body")
    message: str


class ErrorBody(BaseModel):
    detail: str
    errors: list[ErrorField]


class ApiError(Exception):
    """An answer other than 200, with the field it is about."""

    def __init__(self, status: int, detail: str, field: str | None = None, where: str | None = None,
                 message: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.errors = [{"field": field, "in": where, "message": message or detail}] if field else []


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in ((404, "unknown playlist or track"), (422, "invalid input (the field is named)"),
                       (503, "no model to serve yet"))
}


# --- the app ---------------------------------------------------------------------------------------------------------

def create_app(
    lake_path: str,
    *,
    model_path: str | None = None,
    check_interval: float = 30.0,
    max_batch: int = MAX_BATCH,
    preload: bool = True,
    holder: ModelHolder | None = None,
) -> FastAPI:
    """The API over the models trained under ``lake_path``.

    Parameters
    ----------
    model_path
        Serve this model folder only (no swapping); default: the latest, swapped when a newer one is trained.
    check_interval
        Least seconds between two checks of the lake's ``LATEST`` pointer (requests trigger them).
    max_batch
        Most queries scored by one matrix product.
    preload
        Load the model now (a missing model is not an error: requests answer 503 until one is trained).
    holder
        A ready :class:`ModelHolder` (tests); built from the other arguments when None.
    """
    holder = holder or ModelHolder(lake_path, model_path=model_path, check_interval=check_interval)
    scorer = BatchScorer(max_batch)
    if preload:
        try:
            holder.load()
        except NoModelError as error:
            log.warning("no model to serve yet: %s", error)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        scorer.close()
        if scorer.batches:
            log.info("scored %d queries in %d batches: %.1f per batch", scorer.queries, scorer.batches,
                     scorer.queries / scorer.batches)

    app = FastAPI(
        title="musiclake",
        version=musiclake.__version__,
        summary="Track recommendations from the musiclake ALS model",
        description=__doc__.split("\n\n")[0],
        lifespan=lifespan,
    )
    app.state.holder = holder
    app.state.scorer = scorer
    app.add_middleware(_BodyLimit, max_bytes=MAX_BODY_BYTES)
    _add_error_handlers(app)

    def served_model() -> Model:
        try:
            return holder.get()
        except NoModelError as error:
            raise ApiError(503, f"no model to serve: {error}") from None

    async def answer(model: Model, pending: Pending) -> Served:
        ranked = await scorer.rank(model, pending.query) if pending.query is not None else None
        served = pending.finish(ranked)
        return recommend.with_names(model, served) if served.source == recommend.POPULARITY else served

    @app.get("/v1/playlists/{playlist_id}/recommendations", response_model=PlaylistRecommendations,
             responses=_ERRORS, tags=["recommendations"])
    async def playlist_recommendations(
        playlist_id: Annotated[str, Path(max_length=MAX_ID_LENGTH, description="e.g. mpd:123")],
        k: K = DEFAULT_K,
    ) -> JSONResponse:
        """The top ``k`` tracks for a playlist the model was trained on, none it already has."""
        model = served_model()
        index = model.playlists.index_of(playlist_id)
        if index is None or not model.has_factors(index):
            raise ApiError(404, f"playlist {playlist_id} is unknown to model v={model.version}", "playlist_id",
                           "path", "unknown to the model: for a new playlist POST its tracks to /v1/recommendations")
        served = await answer(model, recommend.plan_for_playlist(model, playlist_id, k))
        return JSONResponse({
            "playlist_id": playlist_id, "playlist_name": model.playlist_name(index), "model_version": model.version,
            "source": served.source, "k": k, "tracks": _tracks(served), "notes": served.notes,
        })

    @app.post("/v1/recommendations", response_model=SeedRecommendations, responses=_ERRORS,
              tags=["recommendations"])
    async def seed_recommendations(body: SeedTracks) -> JSONResponse:
        """Recommendations for a new playlist from its tracks, folded into the trained model (no retraining).

        Seeds the model does not know are listed in ``unknown_track_ids``; with none known, the most popular
        tracks not among the seeds are returned (``source: popularity``).
        """
        model = served_model()
        seeds = recommend.parse_track_references(body.track_ids)
        served = await answer(model, recommend.plan_for_tracks(model, seeds, body.k))
        return JSONResponse({
            "model_version": model.version, "source": served.source, "k": body.k,
            "used_track_ids": served.used_track_ids, "unknown_track_ids": served.unknown_track_ids,
            "tracks": _tracks(served), "notes": served.notes,
        })

    @app.get("/v1/tracks/{track_id}/similar", response_model=SimilarTracks, responses=_ERRORS, tags=["tracks"])
    async def similar_tracks(
        track_id: Annotated[str, Path(max_length=MAX_ID_LENGTH, description="a Spotify track id")],
        k: K = DEFAULT_K,
    ) -> JSONResponse:
        """The tracks most similar to a track, by cosine similarity of the ALS item factors."""
        model = served_model()
        try:
            pending = recommend.plan_similar(model, track_id, k)
        except UnknownTrackError as error:
            raise ApiError(404, str(error), "track_id", "path", "unknown to the model") from None
        served = await answer(model, pending)
        index = model.tracks.index_of(track_id)
        (name,), (artist,) = model.names_of([index])
        return JSONResponse({
            "track_id": track_id, "track_name": name, "artist_name": artist, "model_version": model.version,
            "k": k, "tracks": _tracks(served, score="similarity"),
        })

    @app.get("/v1/model", response_model=ModelInfo, responses={503: _ERRORS[503]}, tags=["model"])
    async def model_info() -> JSONResponse:
        """The served model: version, parameters, training input and holdout evaluation."""
        model = served_model()
        meta = model.metadata
        return JSONResponse({
            "version": model.version, "created_at": meta.get("created_at"),
            "loaded_at": model.loaded_at.isoformat(), "rank": model.rank, "params": meta.get("params") or {},
            "implicit_prefs": meta.get("implicit_prefs"), "playlists": int(model.users_with_factors.sum()),
            "tracks": int(len(model.item_factors) - len(model.items_without_factors)),
            "input": {k: v for k, v in (meta.get("input") or {}).items() if k != "path"},
            "evaluation": meta.get("evaluation"), "musiclake_version": meta.get("musiclake_version"),
        })

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}}, tags=["model"])
    async def healthz() -> JSONResponse:
        """200 while a model is served, 503 before the first one loads."""
        try:
            model = holder.get()
        except NoModelError:
            return JSONResponse({"status": "no model", "model_version": None}, status_code=503)
        return JSONResponse({"status": "ok", "model_version": model.version})

    return app


def _tracks(served: Served, score: str = "score") -> list[dict[str, Any]]:
    return [{"rank": t.rank, "track_id": t.track_id, "track_name": t.track_name, "artist_name": t.artist_name,
             score: t.score} for t in served.tracks]


# --- errors: JSON naming the field, never a stack trace ------------------------------------------------------------

def _error(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors or []}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return _error(error.status, error.detail, error.errors)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [_field_error(e) for e in error.errors()]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return _error(422, summary, errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        body = [{"field": "body", "in": "body", "message": str(error.detail)}] if error.status_code == 413 else []
        return _error(error.status_code, str(error.detail), body)

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=error)
        return _error(500, "internal server error (logged)")


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    """A pydantic error as ``{"field": "track_ids[3]", "in": "body", "message": ...}``."""
    location = list(error.get("loc") or ())
    where = str(location.pop(0)) if location and location[0] in ("path", "query", "body", "header") else "body"
    field = ""
    for part in location:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "json_invalid":
        message = f"invalid JSON: {error.get('ctx', {}).get('error', 'cannot parse')}"
    return {"field": field or where, "in": where, "message": message}


class _BodyLimit:
    """413 for a request body over ``max_bytes`` (declared or streamed), before the app reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLargeError(413, f"request body over {self.max_bytes} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLargeError:
            if not started:
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body over {self.max_bytes} bytes",
                           "errors": [{"field": "body", "in": "body",
                                       "message": f"at most {self.max_bytes} bytes"}]}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLargeError(StarletteHTTPException):
    """A streamed body went over the limit (an HTTPException: FastAPI passes it on while reading the body)."""
