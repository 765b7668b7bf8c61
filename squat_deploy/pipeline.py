"""The main job: train (or reuse a cached model), export, compile, simulate, verify."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from squat_deploy import __version__
from squat_deploy.artifact import write_artifact
from squat_deploy.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from squat_deploy.compiler import IntegerGraph, compile_artifact, estimate_footprint
from squat_deploy.data import SpikeDataset, load_split
from squat_deploy.errors import UserError
from squat_deploy.export import export_checkpoint
from squat_deploy.nn.context import Mode
from squat_deploy.nn.network import SpikingNetwork
from squat_deploy.profiles import load_target
from squat_deploy.train import TrainConfig, config_record, evaluate, train
from squat_deploy.verify import verify

log = logging.getLogger(__name__)


def default_workdir(config: TrainConfig) -> Path:
    """Return the cache folder of a configuration: equal configs share a trained model."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "squat-deploy"
    key = json.dumps({"version": __version__, "config": config_record(config)}, sort_keys=True)
    return base / f"run-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def dataset_for(checkpoint: Checkpoint, split: str = "test") -> SpikeDataset:
    """Rebuild the dataset a checkpoint was trained on, from its encoding record."""
    train_set, test_set = load_split(checkpoint.encoding)
    return test_set if split == "test" else train_set


def run_pipeline(
    config: TrainConfig,
    workdir: Path | None = None,
    retrain: bool = False,
    progress: bool = True,
    full_width_state: bool = False,
) -> dict[str, Any]:
    """Run every stage and return the summary (the keys of ``squat run --json``)."""
    workdir = Path(workdir) if workdir is not None else default_workdir(config)
    workdir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = workdir / "model.pt"
    artifact_path = workdir / f"model-{config.target}.squat"

    profile = load_target(config.target)
    resolved = config.resolved(profile)
    if resolved.state_bits is not None and not profile.level_tables and not full_width_state:
        raise UserError(
            f"target {profile.name!r} has no level tables, so a {resolved.state_bits}-bit quantized state cannot be "
            f"deployed; use --state-bits none, or --full-width-state to train with level tables and deploy full-width states"
        )
    for label, neuron_type in (("--hidden-type", resolved.hidden_type), ("--output-type", resolved.output_type)):
        if neuron_type not in profile.neuron_types:
            allowed = ", ".join(profile.neuron_types)
            raise UserError(f"target {profile.name!r} does not support {neuron_type} neurons; use {label} with one of: {allowed}")
    if resolved.reset not in {reset.value for reset in profile.resets}:
        allowed = ", ".join(reset.value for reset in profile.resets)
        raise UserError(f"target {profile.name!r} does not support reset {resolved.reset!r}; use --reset with one of: {allowed}")

    if checkpoint_path.exists() and not retrain:
        log.info("reusing the trained model in %s", checkpoint_path)
        checkpoint = load_checkpoint(checkpoint_path)
        if checkpoint.training.get("config") != config_record(config):
            raise UserError(f"{checkpoint_path} was trained with another configuration; pass --retrain or another --workdir")
        reused = True
    else:
        checkpoint, _ = train(config, progress=progress)
        save_checkpoint(checkpoint_path, checkpoint)
        reused = False

    artifact = export_checkpoint(checkpoint, checkpoint_path, full_width_state=full_width_state)
    graph = compile_artifact(artifact)  # reject before writing anything the target cannot hold
    write_artifact(artifact_path, artifact)
    summary = verification_summary(checkpoint.build_network(), graph, dataset_for(checkpoint, "test"))
    return {**summary, "model_reused": reused, "checkpoint": str(checkpoint_path), "artifact": str(artifact_path)}


def verification_summary(network: SpikingNetwork, graph: IntegerGraph, dataset: SpikeDataset) -> dict[str, Any]:
    """Verify ``graph`` against ``network`` and add the accuracies and footprint (the ``--json`` keys)."""
    report = verify(network, graph, dataset)
    footprint = estimate_footprint(graph)
    return {
        **report.to_dict(),
        "first_mismatch": None if report.first_mismatch is None else report.first_mismatch.describe(),
        "test_samples": report.samples,
        "accuracy_float": evaluate(network, dataset, Mode.FLOAT),
        "accuracy_fake_quant": evaluate(network, dataset, Mode.FAKE_QUANT),
        "footprint_bytes": footprint.total_bytes,
        "footprint_float32_bytes": footprint.float32_bytes,
        "footprint": footprint.to_dict(),
    }
