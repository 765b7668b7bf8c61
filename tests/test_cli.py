"""The ``squat`` command line, run in-process through click's test runner."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from squat_deploy.artifact import MANIFEST_NAME, read_artifact
from squat_deploy.checkpoint import load_checkpoint, save_checkpoint
from squat_deploy.cli import main
from squat_deploy.compiler import compile_artifact, estimate_footprint
from squat_deploy.pipeline import dataset_for
from squat_deploy.profiles import shipped_targets
from squat_deploy.sim import simulate

INPUTS, HIDDEN, CLASSES = 64, 16, 10
STEPS = 8  # time steps of the rasters written here

REPORT_KEYS = {
    "target",
    "bit_exact",
    "spike_match_rate",
    "state_match_rate",
    "accuracy_float",
    "accuracy_fake_quant",
    "accuracy_integer",
    "footprint_bytes",
}


def invoke(*args) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args])


def assert_ok(result: Result) -> None:
    assert result.exit_code == 0, result.output
    assert result.exception is None, result.output


def assert_user_error(result: Result, *fragments: str) -> None:
    """Check for exit status 2 and one ``error:`` line on standard error that contains every fragment."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def assert_accuracy(value) -> None:
    assert isinstance(value, float)
    assert 0.0 <= value <= 1.0


def write_raster(path, raster: np.ndarray):
    np.save(path, raster, allow_pickle=False)
    return path


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def zip_manifest(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(MANIFEST_NAME))


# Each command on the tiny model.


def test_train_writes_checkpoint(tmp_path):
    path = tmp_path / "small.pt"

    result = invoke("train", "--limit", 20, "--epochs", 1, "--hidden-size", 8, "--steps", 4, "-o", path)
    assert_ok(result)
    match = re.search(r"test accuracy: float (\d\.\d{4}), fake-quantized (\d\.\d{4})", result.stdout)
    assert match, result.stdout
    assert_accuracy(float(match.group(1)))
    assert_accuracy(float(match.group(2)))
    assert f"wrote {path}" in result.stdout

    checkpoint = load_checkpoint(path)
    assert [layer.size for layer in checkpoint.network.layers] == [8, CLASSES]
    assert checkpoint.encoding["num_steps"] == 4
    assert checkpoint.training["config"]["limit"] == 20


def test_export_writes_artifact(tiny_checkpoint, tiny_artifact, tmp_path):
    path = tmp_path / "again.squat"

    result = invoke("export", tiny_checkpoint, "-o", path)
    assert_ok(result)
    assert result.stdout.strip() == f"wrote {path} (target fpga-int8, 2 layers)"

    written, reference = read_artifact(path), read_artifact(tiny_artifact)
    assert sorted(written.arrays) == sorted(reference.arrays)
    for name, array in reference.arrays.items():
        np.testing.assert_array_equal(written.arrays[name], array, err_msg=name)


def test_export_default_output(tiny_checkpoint, tmp_path):
    checkpoint = shutil.copy(tiny_checkpoint, tmp_path / "copy.pt")

    result = invoke("export", checkpoint)
    assert_ok(result)
    assert (tmp_path / "copy.squat").is_file()


def test_inspect_prints_manifest(tiny_artifact):
    result = invoke("inspect", tiny_artifact)
    assert_ok(result)
    manifest = json.loads(result.stdout)

    assert manifest["format"] == "squat-deploy-artifact"
    assert manifest["version"] == 1
    assert manifest["target"]["name"] == "fpga-int8"
    assert manifest["input"]["size"] == INPUTS
    assert [layer["name"] for layer in manifest["layers"]] == ["hidden", "output"]
    assert manifest["arrays"]["hidden.dense.weight"]["shape"] == [HIDDEN, INPUTS]
    assert len(manifest["arrays"]["hidden.dense.weight"]["sha256"]) == 64


def test_compile_prints_layers(tiny_artifact):
    result = invoke("compile", tiny_artifact)
    assert_ok(result)
    # Notes about collapsed levels are indented further; keep the layer lines.
    lines = [line for line in result.stdout.splitlines() if not line.startswith("    note:")]

    assert lines[0] == "target fpga-int8: 2 layers, all values fit their widths"
    assert lines[1].startswith(f"  hidden: RLeaky x{HIDDEN}, fan-in {INPUTS}, reset subtract, max |acc| ")
    assert lines[2].startswith(f"  output: Leaky x{CLASSES}, fan-in {HIDDEN}, reset subtract, max |acc| ")
    assert "bits: weight 8, accumulator 32, current 16, state 16, threshold 16, decay 12, level_index 4" in lines[1]


def test_compile_json_widths(tiny_artifact):
    result = invoke("compile", tiny_artifact, "--target", "fpga-int8", "--json")
    assert_ok(result)
    graph = json.loads(result.stdout)

    assert graph["target"] == "fpga-int8"
    assert graph["input_size"] == INPUTS
    hidden, output = graph["layers"]
    assert hidden["recurrent"] is True
    assert output["recurrent"] is False
    assert hidden["widths"] == {
        "weight": 8,
        "accumulator": 32,
        "current": 16,
        "state": 16,
        "threshold": 16,
        "decay": 12,
        "level_index": 4,
    }
    # The input may carry up to 15 events per channel and step on fpga-int8.
    assert 0 < hidden["max_accumulator"] <= max(INPUTS * 127 * 15, HIDDEN * 127)


def test_footprint_prints_table(tiny_artifact):
    footprint = estimate_footprint(compile_artifact(read_artifact(tiny_artifact)))

    result = invoke("footprint", tiny_artifact)
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["layer", "weights", "biases", "scales", "decays", "thresholds", "states", "level_tables", "total", "float32"]
    assert lines[1].split()[0] == "hidden"
    assert lines[3].split()[0] == "total"
    assert lines[3].split()[-2:] == [str(footprint.total_bytes), str(footprint.float32_bytes)]
    assert lines[-1].startswith("cores: 1 of 1 needed (binding limit: neurons)")


def test_footprint_json_totals(tiny_artifact):
    footprint = estimate_footprint(compile_artifact(read_artifact(tiny_artifact)))

    result = invoke("footprint", tiny_artifact, "--json")
    assert_ok(result)
    data = json.loads(result.stdout)
    assert data["target"] == "fpga-int8"
    assert data["total_bytes"] == footprint.total_bytes
    assert data["total_bytes"] == sum(layer["total_bytes"] for layer in data["layers"])
    assert data["float32_bytes"] > data["total_bytes"]
    assert data["layers"][0]["bytes"]["weights"] == HIDDEN * (INPUTS + HIDDEN)
    assert data["cores"]["demand"]["neurons"] == HIDDEN + CLASSES


def test_simulate_digits_test_set(tiny_artifact):
    result = invoke("simulate", tiny_artifact, "--limit", 10)
    assert_ok(result)
    lines = result.stdout.splitlines()

    assert lines[0] == "simulated 10 sample(s) x 16 steps on fpga-int8"
    assert re.fullmatch(r"  hidden: \d+ spikes, rate \d\.\d{4} per neuron per step", lines[1])
    assert re.fullmatch(r"  output: \d+ spikes, rate \d\.\d{4} per neuron per step", lines[2])
    match = re.fullmatch(r"accuracy: (\d\.\d{4})", lines[3])
    assert match, lines[3]
    assert_accuracy(float(match.group(1)))


def test_simulate_uses_split_seed(tmp_path):
    checkpoint = tmp_path / "seed5.pt"
    assert_ok(invoke("train", "--limit", 20, "--epochs", 1, "--hidden-size", 8, "--steps", 4, "--seed", 5, "-o", checkpoint))
    assert_ok(invoke("export", checkpoint))
    artifact = tmp_path / "seed5.squat"

    result = invoke("simulate", artifact, "--limit", 20)
    assert_ok(result)

    # The digits test set of a model trained with --seed 5 is the split made with seed 5.
    test_set = dataset_for(load_checkpoint(checkpoint), "test")
    expected = simulate(compile_artifact(read_artifact(artifact)), test_set.spikes)
    assert f"  hidden: {int(expected.spikes[0].sum())} spikes," in result.stdout
    assert f"  output: {int(expected.spikes[1].sum())} spikes," in result.stdout


def check_traces(traces, levels: dict[str, np.ndarray], batch: int) -> None:
    """Check the shapes of every trace in the npz and that each state is its level."""
    assert sorted(traces.files) == sorted(f"{layer}.{kind}" for layer in ("hidden", "output") for kind in ("spikes", "mem", "mem_index"))
    for layer, size in (("hidden", HIDDEN), ("output", CLASSES)):
        for kind in ("spikes", "mem", "mem_index"):
            assert traces[f"{layer}.{kind}"].shape == (batch, STEPS, size), f"{layer}.{kind}"
        assert set(np.unique(traces[f"{layer}.spikes"])) <= {0, 1}, layer
        np.testing.assert_array_equal(levels[layer][traces[f"{layer}.mem_index"]], traces[f"{layer}.mem"], err_msg=layer)


def test_simulate_raster_time_inputs(tiny_artifact, tmp_path):
    raster = np.random.default_rng(1).random((STEPS, INPUTS)) < 0.3
    output = tmp_path / "traces.npz"

    result = invoke("simulate", tiny_artifact, "--input", write_raster(tmp_path / "raster.npy", raster), "-o", output)
    assert_ok(result)
    assert result.stdout.splitlines()[0] == f"simulated 1 sample(s) x {STEPS} steps on fpga-int8"
    assert f"wrote {output}" in result.stdout

    arrays = read_artifact(tiny_artifact).arrays
    with np.load(output) as traces:
        check_traces(traces, {"hidden": arrays["hidden.levels"], "output": arrays["output.levels"]}, batch=1)


def test_simulate_raster_time_batch_inputs(tiny_artifact, tmp_path):
    raster = np.random.default_rng(2).integers(0, 3, (STEPS, 3, INPUTS))
    single = raster[:, 1, :]
    batch_output, single_output = tmp_path / "batch.npz", tmp_path / "single.npz"

    result = invoke("simulate", tiny_artifact, "--input", write_raster(tmp_path / "batch.npy", raster), "-o", batch_output)
    assert_ok(result)
    assert result.stdout.splitlines()[0] == f"simulated 3 sample(s) x {STEPS} steps on fpga-int8"
    assert_ok(invoke("simulate", tiny_artifact, "--input", write_raster(tmp_path / "single.npy", single), "-o", single_output))

    arrays = read_artifact(tiny_artifact).arrays
    with np.load(batch_output) as traces, np.load(single_output) as reference:
        check_traces(traces, {"hidden": arrays["hidden.levels"], "output": arrays["output.levels"]}, batch=3)
        assert traces["hidden.spikes"].sum() > 0
        for name in traces.files:
            # Sample 1 of the batch runs alone as the same (time, inputs) raster.
            np.testing.assert_array_equal(traces[name][1], reference[name][0], err_msg=name)


def test_verify_json_report(tiny_checkpoint, tiny_artifact):
    result = invoke("verify", tiny_checkpoint, tiny_artifact, "--json")
    assert_ok(result)
    report = json.loads(result.stdout)

    assert REPORT_KEYS <= set(report)
    assert report["target"] == "fpga-int8"
    assert report["bit_exact"] is True
    assert report["spike_match_rate"] == 1.0
    assert report["state_match_rate"] == 1.0
    assert report["first_mismatch"] is None
    assert report["test_samples"] == 60
    assert_accuracy(report["accuracy_float"])
    assert_accuracy(report["accuracy_fake_quant"])
    assert_accuracy(report["accuracy_integer"])
    assert report["footprint_bytes"] == estimate_footprint(compile_artifact(read_artifact(tiny_artifact))).total_bytes


def test_verify_text_report(tiny_checkpoint, tiny_artifact):
    result = invoke("verify", tiny_checkpoint, tiny_artifact)
    assert_ok(result)

    assert re.search(r"^target: +fpga-int8$", result.stdout, re.MULTILINE)
    assert re.search(r"^samples: +60$", result.stdout, re.MULTILINE)
    assert re.search(r"^spike match: +100\.000000%$", result.stdout, re.MULTILINE)
    assert re.search(r"^bit-exact: +yes$", result.stdout, re.MULTILINE)


def test_run_reuses_model(tmp_path):
    arguments = ("run", "--limit", 60, "--epochs", 1, "--hidden-size", 16, "--workdir", tmp_path, "--json")

    first = invoke(*arguments)
    assert_ok(first)
    summary = json.loads(first.stdout)
    assert REPORT_KEYS | {"model_reused", "checkpoint", "artifact"} <= set(summary)
    assert summary["model_reused"] is False
    assert summary["bit_exact"] is True
    assert summary["spike_match_rate"] == 1.0
    assert summary["state_match_rate"] == 1.0
    assert_accuracy(summary["accuracy_integer"])
    assert summary["footprint_bytes"] > 0
    assert summary["checkpoint"] == str(tmp_path / "model.pt")
    assert summary["artifact"] == str(tmp_path / "model-fpga-int8.squat")

    second = invoke(*arguments)
    assert_ok(second)
    again = json.loads(second.stdout)
    assert again["model_reused"] is True
    assert again["accuracy_integer"] == summary["accuracy_integer"]
    assert again["footprint_bytes"] == summary["footprint_bytes"]


# Bad input: one "error:" line and exit status 2.


def test_export_missing_checkpoint(tmp_path):
    result = invoke("export", tmp_path / "absent.pt")

    assert_user_error(result, f"checkpoint {tmp_path / 'absent.pt'} not found")
    assert not (tmp_path / "absent.squat").exists()


def test_verify_missing_checkpoint(tiny_artifact, tmp_path):
    assert_user_error(invoke("verify", tmp_path / "absent.pt", tiny_artifact), "not found")


def test_export_foreign_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("not a checkpoint\n")

    assert_user_error(invoke("export", path), "not a squat-deploy checkpoint")


def test_verify_missing_artifact(tiny_checkpoint, tmp_path):
    assert_user_error(invoke("verify", tiny_checkpoint, tmp_path / "absent.squat"), f"artifact {tmp_path / 'absent.squat'} not found")


def test_inspect_missing_artifact(tmp_path):
    assert_user_error(invoke("inspect", tmp_path / "absent.squat"), "not found")


def test_inspect_not_a_zip(tmp_path):
    path = tmp_path / "plain.squat"
    path.write_text("plain text\n")

    assert_user_error(invoke("inspect", path), "not a zip archive")


def test_inspect_zip_without_manifest(tmp_path):
    path = tmp_path / "empty.squat"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "no manifest here")

    assert_user_error(invoke("inspect", path), "no manifest.json inside")


def test_inspect_wrong_version(tiny_artifact, tmp_path, rewrite_zip):
    manifest = zip_manifest(tiny_artifact)
    manifest["version"] = 2
    path = rewrite_zip(tiny_artifact, tmp_path / "v2.squat", {MANIFEST_NAME: json.dumps(manifest).encode()})

    assert_user_error(invoke("inspect", path), "artifact format version 2 is not supported", "reads version 1")


@pytest.mark.parametrize("command", ["inspect", "compile", "footprint", "simulate", "verify"])
def test_tampered_array_rejected(tiny_checkpoint, tiny_artifact, tmp_path, rewrite_zip, command):
    weight = read_artifact(tiny_artifact).arrays["hidden.dense.weight"].copy()
    weight[0, 0] = 1 if weight[0, 0] != 1 else 2
    path = rewrite_zip(tiny_artifact, tmp_path / "tampered.squat", {"arrays/hidden.dense.weight.npy": npy_bytes(weight)})
    arguments = [command, tiny_checkpoint, path] if command == "verify" else [command, path]

    assert_user_error(invoke(*arguments), str(path), "array 'hidden.dense.weight' does not match its manifest entry")


def test_compile_unknown_target(tiny_artifact):
    assert_user_error(invoke("compile", tiny_artifact, "--target", "no-such-chip"), "unknown target 'no-such-chip'", "fpga-int8")


def test_train_unknown_target(tmp_path):
    result = invoke("train", "--target", "no-such-chip", "-o", tmp_path / "model.pt")

    assert_user_error(result, "unknown target 'no-such-chip'")
    assert not (tmp_path / "model.pt").exists()


def test_compile_target_too_small(tiny_artifact, tmp_path):
    text = shipped_targets()["fpga-int8"].read_text(encoding="utf-8")
    profile = tmp_path / "small.toml"
    profile.write_text(text.replace("neurons_per_core = 8192", "neurons_per_core = 20"), encoding="utf-8")

    assert_user_error(invoke("compile", tiny_artifact, "--target", profile), f"needs {HIDDEN + CLASSES} neurons", "6 too many")


@pytest.mark.parametrize(
    "raster, fragment",
    [
        pytest.param(np.zeros((STEPS, INPUTS - 1), dtype=np.int64), f"invalid raster shape ({STEPS}, {INPUTS - 1}); expected", id="width"),
        pytest.param(np.zeros((STEPS, 2, 3, INPUTS), dtype=np.int64), "expected (time, 64) or (time, batch, 64)", id="rank"),
        pytest.param(np.full((STEPS, INPUTS), -1, dtype=np.int64), "found -1", id="negative"),
        pytest.param(np.full((STEPS, INPUTS), 0.5), "fractional values", id="fractional"),
    ],
)
def test_simulate_bad_raster(tiny_artifact, tmp_path, raster, fragment):
    output = tmp_path / "traces.npz"

    result = invoke("simulate", tiny_artifact, "--input", write_raster(tmp_path / "raster.npy", raster), "-o", output)
    assert_user_error(result, "raster.npy", fragment)
    assert not output.exists()


def test_simulate_raster_not_npy(tiny_artifact, tmp_path):
    path = tmp_path / "raster.npy"
    path.write_text("0,1,0\n")

    assert_user_error(invoke("simulate", tiny_artifact, "--input", path), "not a NumPy .npy file")


# A failed write leaves no output file.


def test_export_into_missing_folder(tiny_checkpoint, tmp_path):
    output = tmp_path / "missing" / "model.squat"

    assert_user_error(invoke("export", tiny_checkpoint, "-o", output), "does not exist")
    assert not output.parent.exists()


def test_simulate_into_missing_folder(tiny_artifact, tmp_path):
    raster = write_raster(tmp_path / "raster.npy", np.ones((STEPS, INPUTS), dtype=np.int64))
    output = tmp_path / "missing" / "traces.npz"

    result = invoke("simulate", tiny_artifact, "--input", raster, "-o", output)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error: ")
    assert "does not exist" in result.stderr
    assert not output.parent.exists()


def test_export_interrupted_leaves_nothing(tiny_checkpoint, tmp_path, monkeypatch):
    output = tmp_path / "model.squat"
    calls = []

    def failing_save(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise OSError("No space left on device")
        return real_save(*args, **kwargs)

    real_save = np.save
    monkeypatch.setattr(np, "save", failing_save)
    result = invoke("export", tiny_checkpoint, "-o", output)

    assert len(calls) == 3  # two arrays went into the archive before the failure
    assert isinstance(result.exception, OSError)
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []


def test_export_interrupted_keeps_old_file(tiny_checkpoint, tiny_artifact, tmp_path, monkeypatch):
    output = shutil.copy(tiny_artifact, tmp_path / "model.squat")
    before = output.read_bytes()

    def failing_save(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "save", failing_save)
    result = invoke("export", tiny_checkpoint, "-o", output)

    assert isinstance(result.exception, OSError)
    assert output.read_bytes() == before
    assert [path.name for path in tmp_path.iterdir()] == ["model.squat"]


def test_usage_error_one_line():
    result = invoke("train", "--state-bits", "abc")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "'abc' is not a whole number" in lines[0]


def test_bad_numbers_rejected_before_training():
    for option, value in (("--limit", "0"), ("--lr", "-1"), ("--epochs", "0")):
        result = invoke("train", option, value)
        assert result.exit_code == 2, option
        assert result.stderr.startswith("error: "), option
        assert "Traceback" not in result.output, option


def test_artifact_as_checkpoint_named(tiny_artifact):
    assert_user_error(invoke("verify", tiny_artifact, tiny_artifact), "is an artifact, not a checkpoint")


def test_verify_other_checkpoint_rejected(tiny_artifact, tiny_checkpoint, tmp_path):
    other = tmp_path / "other.pt"
    checkpoint = load_checkpoint(tiny_checkpoint)
    checkpoint.state_dict = {key: value.clone() for key, value in checkpoint.state_dict.items()}
    checkpoint.state_dict["linears.0.weight"] += 0.01
    save_checkpoint(other, checkpoint)
    assert_user_error(invoke("verify", str(other), tiny_artifact), "was exported from another checkpoint")


def test_export_onto_checkpoint_rejected(tiny_checkpoint, tmp_path):
    copy = tmp_path / "copy.pt"
    copy.write_bytes(Path(tiny_checkpoint).read_bytes())
    assert_user_error(invoke("export", str(copy), "-o", str(copy)), "would overwrite the checkpoint")
    assert copy.read_bytes() == Path(tiny_checkpoint).read_bytes()


def test_written_files_readable_by_group(tiny_checkpoint, tmp_path):
    output = tmp_path / "model.squat"
    assert_ok(invoke("export", tiny_checkpoint, "-o", str(output)))
    umask = os.umask(0)
    os.umask(umask)
    assert output.stat().st_mode & 0o777 == 0o666 & ~umask


def test_simulate_empty_raster(tiny_artifact, tmp_path):
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros((0, INPUTS), dtype=np.int64))
    output = tmp_path / "traces.npz"

    assert_user_error(invoke("simulate", tiny_artifact, "--input", path, "-o", output), "is empty")
    assert not output.exists()
