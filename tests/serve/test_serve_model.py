"""Loading a model version without Spark: factors by index, id maps, each playlist's tracks, names."""

from __future__ import annotations

import ast
import io
import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest
from serve_lake import ITEMS, PAIRS, USERS, VERSION, write_tiny_lake

from musiclake.serve import lakeio, layout
from musiclake.serve.holder import load_in_child
from musiclake.serve.load import ids_by_index, load_model
from musiclake.serve.model import IdIndex


def test_id_index_finds_ids_and_answers_minus_one_for_unknown_or_overlong_ones():
    index = IdIndex.build(["b", "mpd:10", "a", "ünï"], np.array([3, 0, 1, 2]))

    assert index.lookup(["a", "b", "mpd:10", "ünï", "zz", "", "mpd:100"]).tolist() == [1, 3, 0, 2, -1, -1, -1]
    assert index.index_of("mpd:1") is None  # a prefix of a longer id is not that id
    assert index.ids(np.array([0, 2, 3])) == ["mpd:10", "ünï", "b"]
    assert index.size == 4 and len(index) == 4


def test_id_index_keeps_gaps_in_the_indices_as_nulls():
    index = IdIndex.build(["x", "y"], np.array([0, 3]))

    assert ids_by_index(index).to_pylist() == ["x", None, None, "y"]


def test_the_tiny_model_loads_its_factors_by_index_and_the_training_pairs(tiny_model):
    assert tiny_model.version == VERSION and tiny_model.folder == f"v={VERSION}"
    np.testing.assert_array_equal(tiny_model.item_factors, ITEMS)
    np.testing.assert_array_equal(tiny_model.user_factors, USERS)
    assert tiny_model.item_factors.dtype == np.float32 and tiny_model.rank == 2
    assert tiny_model.seen(1).tolist() == [2, 3] and tiny_model.seen(3).tolist() == [0, 1, 2, 3, 4]
    assert len(tiny_model.seen_tracks) == len(PAIRS)
    np.testing.assert_allclose(tiny_model.gram, ITEMS.astype(np.float64).T @ ITEMS.astype(np.float64))
    assert (tiny_model.reg_param, tiny_model.alpha) == (0.1, 10.0)
    assert tiny_model.factor_bytes == ITEMS.nbytes + USERS.nbytes


def test_similar_track_candidates_are_the_tracks_in_two_playlists_or_more(tiny_model):
    # t1 is in one playlist, t5 in none: neither is a candidate
    assert np.isfinite(tiny_model.cosine_penalty).tolist() == [True, False, True, True, True, False]
    np.testing.assert_allclose(tiny_model.cosine_scale[[0, 2]], [1.0, 1.0])


def test_names_come_from_the_tracks_and_playlists_tables(tiny_model):
    assert tiny_model.names_of(np.array([4, 0])) == (["Song 4", "Song 0"], ["artist 4", "artist 0"])
    assert tiny_model.playlist_name(2) == "List 2"
    assert tiny_model.popular.track_ids == ["t0", "t2", "t3", "t4", "t1", "t5"]
    assert tiny_model.popular.scores.tolist() == [2, 2, 2, 2, 1, 0]


def test_a_lake_without_name_tables_serves_without_names(tmp_path):
    write_tiny_lake(tmp_path / "lake", names=False)

    model = load_model(str(tmp_path / "lake"))

    assert model.names_of(np.array([0])) == ([None], [None]) and model.playlist_name(0) is None


def test_a_pinned_model_folder_is_loaded_instead_of_the_latest(tmp_path):
    lake = tmp_path / "lake"
    first = write_tiny_lake(lake, version="20260101T000000Z")
    write_tiny_lake(lake, version="20260202T000000Z")

    assert load_model(str(lake)).version == "20260202T000000Z"
    assert load_model(str(lake), str(first)).version == "20260101T000000Z"


def test_no_trained_model_is_a_file_not_found_error_that_says_how_to_train_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_als"):
        load_model(str(tmp_path / "empty"))


def test_a_vacuumed_training_version_falls_back_to_the_latest_interactions(tmp_path):
    lake = tmp_path / "lake"
    folder = write_tiny_lake(lake)
    metadata = json.loads((folder / layout.METADATA).read_text())
    metadata["input"]["delta_version"] = 7  # a version the table never had
    (folder / layout.METADATA).write_text(json.dumps(metadata))

    assert load_model(str(lake)).seen(1).tolist() == [2, 3]


def test_a_parquet_training_input_with_string_ids_is_mapped_through_the_model_maps(tmp_path):
    import pyarrow.parquet as pq

    lake = tmp_path / "lake"
    folder = write_tiny_lake(lake)
    source = tmp_path / "pairs"
    source.mkdir()
    pq.write_table(pa.table({"playlist_id": ["mpd:1", "mpd:1", "mpd:1", None, "mpd:0", "mpd:0"],
                             "track_id": ["t2", "t3", "t3", "t1", "t5", "t4"],
                             "weight": [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]}), source / "part-0.parquet")
    metadata = json.loads((folder / layout.METADATA).read_text())
    metadata["input"] = {"path": str(source), "format": "parquet", "delta_version": None, "id_maps": "new"}
    (folder / layout.METADATA).write_text(json.dumps(metadata))
    shutil.rmtree(lake / "interactions")

    model = load_model(str(lake))

    # duplicates once, null ids and non-positive weights dropped, as clean_interactions does before training
    assert model.seen(1).tolist() == [2, 3] and model.seen(0).tolist() == [5]


def test_numbers_and_strings_cross_between_arrow_and_numpy_without_pandas():
    chunked = pa.chunked_array([pa.array([1, 2], pa.int32()), pa.array([3], pa.int32())])

    assert lakeio.to_numpy(chunked).tolist() == [1, 2, 3]
    assert lakeio.to_numpy(pa.array([1.5, 2.5, 3.5]).slice(1)).tolist() == [2.5, 3.5]
    assert lakeio.int_array(np.array([4, 5])).to_pylist() == [4, 5]
    assert lakeio.string_array(["a", None, "é"]).to_pylist() == ["a", None, "é"]
    strings = lakeio.to_strings(pa.array(["x", None, "yz", "é"]).slice(1))
    assert strings.get([2, 0, 1]) == ["é", None, "yz"] and len(strings) == 3
    with pytest.raises(ValueError, match="nulls"):
        lakeio.to_numpy(pa.array([1, None]))


def test_sql_literals_are_quoted():
    assert lakeio.sql_in("track_id", ["a", "it's"]) == "\"track_id\" IN ('a', 'it''s')"
    assert lakeio.sql_in("track_id", []) == "FALSE"


def test_a_model_on_s3_loads_through_the_storage_layer(tiny_lake, s3_bucket):
    import boto3

    client = boto3.client("s3")
    for path in sorted(tiny_lake.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), s3_bucket, f"lake/{path.relative_to(tiny_lake)}")
    lake = f"s3://{s3_bucket}/lake"
    folder = f"{lake}/models/als/v={VERSION}"
    metadata = json.loads(client.get_object(Bucket=s3_bucket, Key=f"lake/models/als/v={VERSION}/metadata.json")[
        "Body"].read())
    metadata["input"]["path"] = f"{lake}/interactions"
    client.put_object(Bucket=s3_bucket, Key=f"lake/models/als/v={VERSION}/metadata.json",
                      Body=json.dumps(metadata).encode())

    model = load_model(lake)

    assert model.path == folder and model.seen(1).tolist() == [2, 3]
    assert model.names_of(np.array([1])) == (["Song 1"], ["artist 1"])


def test_a_model_loaded_in_a_child_process_is_the_same_and_the_server_never_imports_arrow(tiny_lake):
    """The serving process (the CLI's parser, the app, the holder) holds numpy arrays only: pyarrow and delta-rs
    (about 50 MB of libraries) stay in the child that loads."""
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from musiclake import cli
        from musiclake.serve.app import create_app
        from musiclake.serve.holder import ModelHolder
        cli.build_parser()  # what `musiclake serve` imports before it serves
        model = ModelHolder({str(tiny_lake)!r}).load()
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'deltalake', 'pyspark', 'pandas'))
        np.save(sys.stdout.buffer, model.item_factors)
        np.save(sys.stdout.buffer, model.seen_tracks)
        print(repr((model.version, model.tracks.ids(np.arange(model.tracks.size)), model.names_of([1, 4]), heavy)))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, check=True)
    out = io.BytesIO(result.stdout)
    items, seen = np.load(out), np.load(out)
    version, track_ids, names, heavy = ast.literal_eval(out.read().decode())
    here = load_model(str(tiny_lake))

    assert heavy == []
    np.testing.assert_array_equal(items, here.item_factors)
    np.testing.assert_array_equal(seen, here.seen_tracks)
    assert (version, track_ids) == (here.version, here.tracks.ids(np.arange(here.tracks.size)))
    assert names == tuple(here.names_of([1, 4]))


def test_a_child_load_of_a_lake_without_a_model_raises_file_not_found_with_the_way_out(tmp_path):
    with pytest.raises(FileNotFoundError, match="run glue_jobs/v1/train_als.py"):
        load_in_child(str(tmp_path))
