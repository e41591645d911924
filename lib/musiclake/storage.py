"""Byte-level storage for small objects on a local folder or S3, with one API for both.

Used by the landing zone (extractor writes, jobs read manifests) and never for bulk table data,
which Spark reads itself. S3 goes through boto3, so the standard AWS configuration applies,
including ``AWS_ENDPOINT_URL_S3`` for a local S3 API server (moto) in tests and the demo.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse


class ObjectExistsError(FileExistsError):
    """Raised when a write-once object already exists (the landing zone is immutable)."""


@dataclass(frozen=True)
class Location:
    """A parsed storage URI: ``s3://bucket/key`` or a local path (``file://`` or plain)."""

    scheme: str  # "s3" or "file"
    bucket: str  # empty for local paths
    key: str  # S3 key, or the absolute local path

    @classmethod
    def parse(cls, uri: str) -> Location:
        parsed = urlparse(str(uri))
        if parsed.scheme in ("s3", "s3a"):
            if not parsed.netloc:
                raise ValueError(f"S3 URI without a bucket: {uri!r} (expected s3://bucket/prefix)")
            return cls("s3", parsed.netloc, parsed.path.lstrip("/"))
        if parsed.scheme in ("", "file"):
            path = parsed.path if parsed.scheme == "file" else str(uri)
            return cls("file", "", str(Path(path).expanduser().resolve()))
        raise ValueError(f"unsupported storage scheme {parsed.scheme!r} in {uri!r}: use s3:// or a local path")

    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.scheme == "s3" else self.key


def join(base: str, *parts: str) -> str:
    """Join path segments onto a URI or local path with ``/``."""
    out = str(base).rstrip("/")
    for part in parts:
        out = f"{out}/{str(part).strip('/')}"
    return out


@lru_cache(maxsize=1)
def _s3():
    import boto3  # imported lazily: local-only users never need AWS libraries

    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None)


def put_bytes(uri: str, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` at ``uri``; refuse to replace an existing object unless ``overwrite``.

    Notes
    -----
    Write-once is enforced by the store itself, not by a check before the write (which two writers could both
    pass): on S3 the ``PutObject`` is conditional (``If-None-Match: *``, so S3 answers 412 when the key exists);
    on a local folder the file is created exclusively (a hard link of a fully written temporary file, or
    ``O_EXCL`` where links are not supported), so a crash never leaves half an object either.

    Raises
    ------
    ObjectExistsError
        If the object exists and ``overwrite`` is false (write-once semantics).
    """
    loc = Location.parse(uri)
    if loc.scheme == "s3":
        if overwrite:
            _s3().put_object(Bucket=loc.bucket, Key=loc.key, Body=data)
        else:
            _put_s3_once(loc, data)
        return
    path = Path(loc.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "xb") as out:  # a name of its own: concurrent writers never share a temporary file
        out.write(data)
    if overwrite:
        tmp.replace(path)  # atomic on POSIX: readers see the old or the new object, never half
        return
    try:
        _link_once(tmp, path, uri)
    finally:
        tmp.unlink(missing_ok=True)


# S3 answers 412 when If-None-Match: * finds the key, 409 when a concurrent conditional write of it is in flight.
_EXISTS_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


def _put_s3_once(loc: Location, data: bytes) -> None:
    from botocore.exceptions import ClientError

    try:
        _s3().put_object(Bucket=loc.bucket, Key=loc.key, Body=data, IfNoneMatch="*")
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if error.get("Code") in _EXISTS_CODES or status in ("412", "409"):
            raise ObjectExistsError(loc.uri()) from exc
        raise


def _link_once(tmp: Path, path: Path, uri: str) -> None:
    """Put the written ``tmp`` at ``path`` unless something is there already (then ``ObjectExistsError``)."""
    try:
        os.link(tmp, path)  # fails if path exists: two writers cannot both land it
        return
    except FileExistsError as exc:
        raise ObjectExistsError(uri) from exc
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
    # No hard links on this file system: create the object exclusively and write it in place.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError as exc:
        raise ObjectExistsError(uri) from exc
    with os.fdopen(fd, "wb") as out:
        out.write(tmp.read_bytes())


def get_bytes(uri: str) -> bytes:
    """Read the object at ``uri``; ``FileNotFoundError`` if it does not exist."""
    loc = Location.parse(uri)
    if loc.scheme == "s3":
        client = _s3()
        try:
            return client.get_object(Bucket=loc.bucket, Key=loc.key)["Body"].read()
        except client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(uri) from exc
    return Path(loc.key).read_bytes()


def exists(uri: str) -> bool:
    loc = Location.parse(uri)
    if loc.scheme == "s3":
        from botocore.exceptions import ClientError

        try:
            _s3().head_object(Bucket=loc.bucket, Key=loc.key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
    return Path(loc.key).exists()


def delete(uri: str) -> None:
    """Remove one object (used only for the extractor's own checkpoint, never for landed data)."""
    loc = Location.parse(uri)
    if loc.scheme == "s3":
        _s3().delete_object(Bucket=loc.bucket, Key=loc.key)
    else:
        Path(loc.key).unlink(missing_ok=True)


def list_uris(prefix: str) -> Iterator[str]:
    """All object URIs under ``prefix`` (recursively), sorted for a deterministic order."""
    loc = Location.parse(prefix)
    if loc.scheme == "s3":
        key_prefix = loc.key.rstrip("/") + "/" if loc.key else ""
        paginator = _s3().get_paginator("list_objects_v2")
        keys = [
            obj["Key"]
            for page in paginator.paginate(Bucket=loc.bucket, Prefix=key_prefix)
            for obj in page.get("Contents", [])
        ]
        yield from (f"s3://{loc.bucket}/{key}" for key in sorted(keys))
        return
    root = Path(loc.key)
    if root.is_dir():
        yield from (str(p) for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith("."))
