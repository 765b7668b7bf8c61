"""Training, deployment and sweeps on the file datasets: spoken digits, SHD and N-MNIST."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from squat_deploy.cli import main
from squat_deploy.data import load_split
from squat_deploy.errors import UserError
from squat_deploy.profiles import load_target
from squat_deploy.sweep import Sweep, SweepConfig
from squat_deploy.train import TrainConfig
from tests.test_events import write_nmnist_tree, write_shd_file

FSDD = Path(os.environ.get("SQUAT_FSDD", Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd"))
needs_fsdd = pytest.mark.skipif(not FSDD.is_dir(), reason=f"spoken-digit recordings not found at {FSDD} (set SQUAT_FSDD)")


def invoke(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def random_shd_samples(rng, count: int, classes: int):
    """Return SHD samples whose active units depend on the class, so a network can learn them."""
    samples, labels = [], []
    for index in range(count):
        label = index % classes
        events = rng.integers(20, 60)
        units = rng.integers(label * 150, label * 150 + 150, size=events)
        times = np.sort(rng.uniform(0.0, 0.9, size=events))
        samples.append((times, units))
        labels.append(label)
    return samples, labels


@pytest.fixture(scope="module")
def shd_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shd")
    rng = np.random.default_rng(0)
    write_shd_file(folder / "shd_train.h5", *random_shd_samples(rng, 40, 4))
    write_shd_file(folder / "shd_test.h5", *random_shd_samples(rng, 12, 4))
    return folder


@pytest.fixture(scope="module")
def nmnist_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("nmnist")
    rng = np.random.default_rng(1)

    def files(count: int):
        result = {}
        for label in range(10):
            result[label] = []
            for index in range(count):
                events = [
                    (int(x), int(y), int(p), int(t))
                    for x, y, p, t in zip(
                        rng.integers(0, 34, 50), rng.integers(0, 34, 50), rng.integers(0, 2, 50), np.sort(rng.integers(0, 290000, 50))
                    )
                ]
                result[label].append((f"{index:05d}.bin", events))
        return result

    return write_nmnist_tree(folder, files(2), files(1))


def run_json(*args) -> dict:
    result = invoke("run", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_run_shd_bit_exact(shd_folder, tmp_path):
    summary = run_json("--dataset", "shd", "--data", shd_folder, "--hidden-size", 8, "--epochs", 1, "--workdir", tmp_path)
    assert summary["bit_exact"] is True
    assert summary["test_samples"] == 12
    assert summary["spike_match_rate"] == 1.0


def test_run_shd_input_channels(shd_folder, tmp_path):
    run_json("--dataset", "shd", "--data", shd_folder, "--hidden-size", 8, "--epochs", 1, "--workdir", tmp_path)
    inspected = invoke("inspect", tmp_path / "model-fpga-int8.squat")
    assert inspected.exit_code == 0, inspected.output
    manifest = json.loads(inspected.output)
    assert manifest["input"]["size"] == 70  # 700 units pooled by 10
    assert manifest["input"]["dataset"] == "shd"


def test_run_nmnist_bit_exact(nmnist_folder, tmp_path):
    summary = run_json("--dataset", "nmnist", "--data", nmnist_folder, "--hidden-size", 8, "--epochs", 1, "--workdir", tmp_path)
    assert summary["bit_exact"] is True
    assert summary["test_samples"] == 10


def test_verify_rebuilds_shd_split(shd_folder, tmp_path):
    model = tmp_path / "model.pt"
    trained = invoke("train", "--dataset", "shd", "--data", shd_folder, "--hidden-size", 8, "--epochs", 1, "-o", model)
    assert trained.exit_code == 0, trained.output
    exported = invoke("export", model)
    assert exported.exit_code == 0, exported.output
    verified = invoke("verify", model, tmp_path / "model.squat", "--split", "train")
    assert verified.exit_code == 0, verified.output
    assert "samples:                    40" in verified.output


def test_file_dataset_needs_data(tmp_path):
    result = invoke("train", "--dataset", "fsdd", "-o", tmp_path / "model.pt")
    assert result.exit_code == 2
    assert "pass their folder with --data" in result.output
    assert not (tmp_path / "model.pt").exists()


def test_missing_data_folder(tmp_path):
    result = invoke("train", "--dataset", "shd", "--data", tmp_path / "absent", "-o", tmp_path / "model.pt")
    assert result.exit_code == 2
    assert result.output.startswith("error:")
    assert "absent" in result.output


@pytest.mark.parametrize(
    ("dataset", "target", "expected"),
    [
        # (input pooling, channels, steps, classes) after "auto"
        ("digits", "fpga-int8", (1, 16, 16, 10)),
        ("digits", "xylo-audio", (2, 8, 16, 8)),
        ("fsdd", "fpga-int8", (1, 16, 40, 10)),
        ("fsdd", "xylo-audio", (1, 8, 40, 8)),
        ("shd", "fpga-int8", (10, 16, 32, 20)),
        ("shd", "xylo-audio", (44, 8, 32, 8)),  # ceil(700 / 44) = 16 inputs
        ("nmnist", "fpga-int8", (2, 16, 32, 10)),
        ("nmnist", "xylo-audio", (17, 8, 32, 8)),  # 2 x 2 x 2 = 8 inputs
    ],
)
def test_auto_settings_fit_target(dataset, target, expected):
    config = TrainConfig(dataset=dataset, data="unused").resolved(load_target(target))
    assert (config.input_pooling, config.channels, config.num_steps, config.classes) == expected


def test_fsdd_encoding_caps_events_at_target():
    profile = load_target("xylo-audio")
    config = TrainConfig(dataset="fsdd", data="unused").resolved(profile)
    encoding = config.encoding(profile)
    assert encoding["front_end"]["max_events"] == min(4, profile.max_input_events)
    assert encoding["front_end"]["channels"] == 8


def test_unknown_dataset_in_encoding():
    with pytest.raises(UserError, match="unknown dataset 'cifar'"):
        load_split({"dataset": "cifar"})


@needs_fsdd
def test_run_fsdd_bit_exact(tmp_path):
    summary = run_json("--dataset", "fsdd", "--data", FSDD, "--limit", 60, "--hidden-size", 16, "--epochs", 1, "--workdir", tmp_path)
    assert summary["bit_exact"] is True
    assert summary["test_samples"] == 60


@needs_fsdd
def test_run_fsdd_speaker_split(tmp_path):
    summary = run_json(
        "--dataset", "fsdd", "--data", FSDD, "--split", "speaker", "--test-speaker", "george",
        "--limit", 30, "--hidden-size", 8, "--epochs", 1, "--workdir", tmp_path,
    )
    assert summary["bit_exact"] is True
    assert summary["test_samples"] == 30


@needs_fsdd
def test_reduced_fsdd_sweep(tmp_path):
    config = SweepConfig(
        train=TrainConfig(dataset="fsdd", data=str(FSDD), limit=60, hidden_size=16, epochs=1, batch_size=32),
        weight_bits=["float", 4],
        state_bits=["float", 2],
        finetune_epochs=1,
    )
    rows = Sweep(config, tmp_path, progress=False).run()
    assert len(rows) == 24
    assert all(row["bit_exact"] for row in rows)
    assert all(row["test_samples"] == 60 for row in rows)
    assert (tmp_path / "results.md").read_text().count("\n| ") == 12
    for name in ("accuracy_vs_bits.png", "state_histogram.png", "raster.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_verify_moved_shd_folder(shd_folder, tmp_path):
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("shd_train.h5", "shd_test.h5"):
        (moved / name).write_bytes((shd_folder / name).read_bytes())
    model = tmp_path / "model.pt"
    assert invoke("train", "--dataset", "shd", "--data", moved, "--hidden-size", 8, "--epochs", 1, "-o", model).exit_code == 0
    assert invoke("export", model).exit_code == 0
    for name in ("shd_train.h5", "shd_test.h5"):
        (moved / name).unlink()

    lost = invoke("verify", model, tmp_path / "model.squat")
    assert lost.exit_code == 2
    assert lost.output.startswith("error:")
    found = invoke("verify", model, tmp_path / "model.squat", "--data", shd_folder)
    assert found.exit_code == 0, found.output
    simulated = invoke("simulate", tmp_path / "model.squat", "--data", shd_folder)
    assert simulated.exit_code == 0, simulated.output


def test_data_rejected_for_digits(tiny_artifact, tmp_path):
    result = invoke("simulate", tiny_artifact, "--data", tmp_path)
    assert result.exit_code == 2
    assert "trained on the bundled digits" in result.output
