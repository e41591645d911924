"""Where the local query engine finds its tables: Delta tables under a lake path (local or S3), the raw zone.

A lake is a folder (or S3 prefix) whose sub-folders are Delta tables (``<lake>/<table>/_delta_log/``); the
table's name is its folder's name, so whatever the jobs wrote is queryable without a list kept here. S3 goes
through delta-rs with storage options built from the usual AWS variables (``AWS_ENDPOINT_URL_S3`` for a local
S3 server, as in :mod:`musiclake.storage`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from musiclake import storage

DELTA_LOG = "_delta_log"
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LANDING_FOLDER = "landing"


def is_s3(uri: str) -> bool:
    return str(uri).startswith(("s3://", "s3a://"))


def normalize(uri: str) -> str:
    """An absolute local path, or ``s3://bucket/prefix`` (``s3a://`` accepted) without a trailing slash."""
    loc = storage.Location.parse(uri)
    return loc.uri().rstrip("/") if loc.scheme == "s3" else loc.key


def discover_delta_tables(lake_path: str) -> dict[str, str]:
    """Map table name -> location for every Delta table directly under ``lake_path``.

    Returns
    -------
    ``{name: uri}`` sorted by name; names are lower-cased folder names (folders that are not valid SQL
    identifiers, such as ``v=...``, and folders without a ``_delta_log`` are skipped). Empty if the lake does
    not exist.
    """
    root = normalize(lake_path)
    if is_s3(root):
        candidates = _s3_delta_folders(root)
    else:
        base = Path(root)
        candidates = [p.name for p in base.iterdir() if (p / DELTA_LOG).is_dir()] if base.is_dir() else []
    return {name.lower(): storage.join(root, name) for name in sorted(candidates) if _TABLE_NAME.match(name)}


def _s3_delta_folders(root: str) -> list[str]:
    loc = storage.Location.parse(root)
    client = storage._s3()  # the one S3 client of the library (honours AWS_ENDPOINT_URL_S3)
    prefix = f"{loc.key}/" if loc.key else ""
    folders: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            folder = common["Prefix"]
            probe = client.list_objects_v2(Bucket=loc.bucket, Prefix=f"{folder}{DELTA_LOG}/", MaxKeys=1)
            if probe.get("KeyCount", 0):
                folders.append(folder[len(prefix):].rstrip("/"))
    return folders


def sibling_landing(lake_path: str) -> str | None:
    """The landing zone next to a lake (``<root>/lake`` -> ``<root>/landing``), if there is one locally.

    Only local lakes are probed (a guess on S3 would cost a listing on every start); pass ``raw_path`` for S3.
    """
    root = normalize(lake_path)
    if is_s3(root):
        return None
    candidate = Path(root).parent / LANDING_FOLDER
    return str(candidate) if candidate.is_dir() else None


def storage_options_from_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """delta-rs storage options for ``s3://`` tables from the standard AWS variables.

    ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``) points at a local S3 server, path-style, plain HTTP allowed;
    region and static credentials are passed on when set. Without static credentials in the environment, the
    ones boto3 resolves (profile, SSO, instance role) are used, so ``AWS_PROFILE`` works as for the AWS CLI.
    """
    env = os.environ if env is None else env
    options: dict[str, str] = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "false"
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        options["AWS_REGION"] = region
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    if env.get("AWS_ACCESS_KEY_ID"):
        options.update({k: env[k] for k in keys if env.get(k)})
    else:
        options.update(_boto3_credentials())
    return options


def _boto3_credentials() -> dict[str, str]:
    try:
        import boto3

        credentials = boto3.Session().get_credentials()
    except Exception:  # no boto3 or no usable configuration: delta-rs tries its own chain
        return {}
    if credentials is None:
        return {}
    frozen = credentials.get_frozen_credentials()
    options = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
    if frozen.token:
        options["AWS_SESSION_TOKEN"] = frozen.token
    return options
