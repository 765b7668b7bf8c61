"""The artifact file: round trip, manifest records, and corrupt files."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

from squat_deploy.artifact import FORMAT_NAME, FORMAT_VERSION, MANIFEST_NAME, Artifact, read_artifact, write_artifact
from squat_deploy.checkpoint import load_checkpoint
from squat_deploy.errors import UserError
from squat_deploy.export import export_checkpoint


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _zip_manifest(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(MANIFEST_NAME))


@pytest.fixture
def exported(tiny_checkpoint) -> Artifact:
    return export_checkpoint(load_checkpoint(tiny_checkpoint), tiny_checkpoint)


def test_round_trip_keeps_arrays(exported, tmp_path):
    path = tmp_path / "model.squat"
    write_artifact(path, exported)
    loaded = read_artifact(path)

    assert sorted(loaded.arrays) == sorted(exported.arrays)
    for name, original in exported.arrays.items():
        assert loaded.arrays[name].dtype == original.dtype, name
        assert loaded.arrays[name].shape == original.shape, name
        np.testing.assert_array_equal(loaded.arrays[name], original, err_msg=name)


def test_round_trip_keeps_manifest(exported, tmp_path):
    path = tmp_path / "model.squat"
    write_artifact(path, exported)
    loaded = read_artifact(path)

    assert "arrays" not in exported.manifest  # writing does not change the caller's manifest
    assert {key: value for key, value in loaded.manifest.items() if key != "arrays"} == exported.manifest
    assert sorted(loaded.manifest["arrays"]) == sorted(exported.arrays)


def test_round_trip_unusual_arrays(tmp_path):
    arrays = {
        "empty": np.zeros((0, 3), dtype=np.int16),
        "extremes": np.array([-128, 0, 127], dtype=np.int8),
        "transposed": np.arange(12, dtype=np.int32).reshape(3, 4).T,  # not C-contiguous
        "wide": np.array([-(2**62), 2**62], dtype=np.int64),
    }
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "note": "größe µs"}
    path = tmp_path / "unusual.squat"
    write_artifact(path, Artifact(manifest, arrays))
    loaded = read_artifact(path)

    assert loaded.manifest["note"] == "größe µs"
    for name, original in arrays.items():
        assert loaded.arrays[name].dtype == original.dtype, name
        assert loaded.arrays[name].shape == original.shape, name
        np.testing.assert_array_equal(loaded.arrays[name], original, err_msg=name)


def test_round_trip_scalar_array(tmp_path):
    # The compiler accepts a 0-d array for any per-neuron constant.
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    path = tmp_path / "scalar.squat"
    write_artifact(path, Artifact(manifest, {"beta": np.array(3666, dtype=np.int64)}))
    loaded = read_artifact(path)

    assert loaded.arrays["beta"].shape == ()
    assert int(loaded.arrays["beta"]) == 3666


def test_manifest_records_array_metadata(tiny_artifact):
    manifest = _zip_manifest(tiny_artifact)
    loaded = read_artifact(tiny_artifact)

    assert manifest["format"] == FORMAT_NAME
    assert manifest["version"] == FORMAT_VERSION
    assert manifest["arrays"]["hidden.dense.weight"]["dtype"] == "int8"
    assert manifest["arrays"]["hidden.dense.weight"]["shape"] == [16, 64]
    assert manifest["arrays"]["hidden.recurrent.weight"]["shape"] == [16, 16]
    assert manifest["arrays"]["output.dense.weight"]["shape"] == [10, 16]
    assert manifest["arrays"]["hidden.levels"]["shape"] == [16]
    for name, entry in manifest["arrays"].items():
        array = loaded.arrays[name]
        assert entry["dtype"] == str(array.dtype), name
        assert entry["shape"] == list(array.shape), name
        assert entry["sha256"] == hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest(), name


def test_zip_members_match_manifest(tiny_artifact):
    manifest = _zip_manifest(tiny_artifact)
    with zipfile.ZipFile(tiny_artifact) as archive:
        members = set(archive.namelist())

    assert members == {MANIFEST_NAME} | {f"arrays/{name}.npy" for name in manifest["arrays"]}


def test_write_into_missing_folder(exported, tmp_path):
    path = tmp_path / "missing" / "model.squat"

    with pytest.raises(UserError, match="folder .*missing does not exist"):
        write_artifact(path, exported)
    assert not path.parent.exists()


def test_read_wrong_digest_names_array(tiny_artifact, tmp_path, rewrite_zip):
    manifest = _zip_manifest(tiny_artifact)
    manifest["arrays"]["hidden.threshold"]["sha256"] = "0" * 64
    path = rewrite_zip(tiny_artifact, tmp_path / "digest.squat", {MANIFEST_NAME: json.dumps(manifest).encode()})

    with pytest.raises(UserError) as caught:
        read_artifact(path)
    assert "'hidden.threshold'" in str(caught.value)
    assert "does not match its manifest entry" in str(caught.value)
    assert str(path) in str(caught.value)


def test_read_changed_values_names_array(tiny_artifact, tmp_path, rewrite_zip):
    threshold = read_artifact(tiny_artifact).arrays["output.threshold"].copy()
    threshold[0] += 1
    path = rewrite_zip(tiny_artifact, tmp_path / "values.squat", {"arrays/output.threshold.npy": _npy_bytes(threshold)})

    with pytest.raises(UserError, match=r"array 'output.threshold' does not match its manifest entry"):
        read_artifact(path)


@pytest.mark.parametrize(
    "replacement",
    [
        pytest.param(lambda array: array.astype(np.int16), id="dtype"),
        pytest.param(lambda array: array.reshape(-1), id="shape"),
    ],
)
def test_read_changed_layout_names_array(tiny_artifact, tmp_path, rewrite_zip, replacement):
    weight = replacement(read_artifact(tiny_artifact).arrays["output.dense.weight"])
    path = rewrite_zip(tiny_artifact, tmp_path / "layout.squat", {"arrays/output.dense.weight.npy": _npy_bytes(weight)})

    with pytest.raises(UserError, match=r"array 'output.dense.weight' does not match its manifest entry"):
        read_artifact(path)


def test_read_missing_member_names_array(tiny_artifact, tmp_path, rewrite_zip):
    path = rewrite_zip(tiny_artifact, tmp_path / "member.squat", drop=("arrays/hidden.beta.npy",))

    with pytest.raises(UserError, match=r"array 'hidden.beta' is listed but missing"):
        read_artifact(path)


def test_read_foreign_format(tiny_artifact, tmp_path, rewrite_zip):
    manifest = _zip_manifest(tiny_artifact)
    manifest["format"] = "something-else"
    path = rewrite_zip(tiny_artifact, tmp_path / "foreign.squat", {MANIFEST_NAME: json.dumps(manifest).encode()})

    with pytest.raises(UserError, match="not a squat-deploy artifact"):
        read_artifact(path)


def test_read_invalid_manifest_json(tiny_artifact, tmp_path, rewrite_zip):
    path = rewrite_zip(tiny_artifact, tmp_path / "json.squat", {MANIFEST_NAME: b'{"format": '})

    with pytest.raises(UserError, match="manifest is not valid JSON"):
        read_artifact(path)
