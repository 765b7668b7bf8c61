"""Shared fixtures: one tiny trained model and its artifact per test session."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from squat_deploy.artifact import write_artifact
from squat_deploy.checkpoint import load_checkpoint, save_checkpoint
from squat_deploy.export import export_checkpoint
from squat_deploy.train import TrainConfig, train

# Trains in about 5 s on a 2-core CPU: 64 inputs, an RLeaky hidden layer of
# 16 neurons, a Leaky output layer of 10 neurons, 16 steps, 4-bit state
# levels, for the fpga-int8 target.
TINY_CONFIG = TrainConfig(epochs=1, limit=60, hidden_size=16)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """Path of a checkpoint trained for one epoch on 60 digits."""
    checkpoint, _ = train(TINY_CONFIG, progress=False)
    path = tmp_path_factory.mktemp("tiny") / "model.pt"
    save_checkpoint(path, checkpoint)
    return path


@pytest.fixture(scope="session")
def tiny_artifact(tiny_checkpoint) -> Path:
    """Path of the artifact exported from ``tiny_checkpoint``, next to it."""
    artifact = export_checkpoint(load_checkpoint(tiny_checkpoint), tiny_checkpoint)
    path = tiny_checkpoint.with_suffix(".squat")
    write_artifact(path, artifact)
    return path


def _rewrite_zip(source: Path, destination: Path, replace: dict[str, bytes] | None = None, drop: tuple[str, ...] = ()) -> Path:
    """Copy the zip ``source`` to ``destination``, replacing or dropping members by name."""
    replace = replace or {}
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as copy:
        for name in original.namelist():
            if name in drop:
                continue
            copy.writestr(name, replace.get(name, original.read(name)))
    return destination


@pytest.fixture
def rewrite_zip():
    """Function ``(source, destination, replace=None, drop=()) -> destination`` that rebuilds a zip with members changed."""
    return _rewrite_zip
