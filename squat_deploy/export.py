"""Export a trained checkpoint to an integer artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from squat_deploy import __version__
from squat_deploy.artifact import FORMAT_NAME, FORMAT_VERSION, Artifact, file_digest
from squat_deploy.checkpoint import Checkpoint
from squat_deploy.nn.arith import decay_constants, quantize_threshold
from squat_deploy.nn.linear import IntegerLinear


def _smallest_int_dtype(bits: int) -> np.dtype:
    for dtype in (np.int8, np.int16, np.int32):
        if bits <= np.iinfo(dtype).bits:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _per_neuron(values: torch.Tensor, size: int) -> np.ndarray:
    return values.expand(size).numpy().astype(np.int64) if values.dim() == 0 else values.numpy().astype(np.int64)


def _dense_entry(prefix: str, params: IntegerLinear, weight_bits: int, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    arrays[f"{prefix}.weight"] = params.weight.numpy().astype(_smallest_int_dtype(weight_bits))
    arrays[f"{prefix}.multiplier"] = params.multiplier.numpy().astype(np.int64)
    arrays[f"{prefix}.shift"] = params.shift.numpy().astype(np.int64)
    entry = {
        "weight": f"{prefix}.weight",
        "bias": None,
        "multiplier": f"{prefix}.multiplier",
        "shift": f"{prefix}.shift",
    }
    if params.bias is not None:
        arrays[f"{prefix}.bias"] = params.bias.numpy().astype(np.int64)
        entry["bias"] = f"{prefix}.bias"
    return entry


def export_checkpoint(checkpoint: Checkpoint, checkpoint_path: str | Path | None = None, full_width_state: bool = False) -> Artifact:
    """Turn a checkpoint into integer arrays and a manifest for its target.

    With ``full_width_state`` the level tables are left out, so a model
    trained with quantized state deploys on a target without level tables.
    Its states then take every value of the state width.
    """
    network = checkpoint.build_network()
    profile = network.context.profile
    arrays: dict[str, np.ndarray] = {}
    layers = []
    fan_in = checkpoint.network.input_size
    for config, linear, neuron in zip(checkpoint.network.layers, network.linears, network.neurons):
        name = config.name
        entry: dict[str, Any] = {
            "name": name,
            "neuron_type": config.neuron_type,
            "size": config.size,
            "fan_in": fan_in,
            "reset": config.reset,
            "dense": _dense_entry(f"{name}.dense", linear.integer(), profile.weight_bits, arrays),
            "recurrent": None,
            "beta": f"{name}.beta",
            "alpha": None,
            "threshold": f"{name}.threshold",
            "levels": None,
            "level_bits": None,
            "state_quant": None if config.state_quant is None else config.state_quant.to_dict(),
        }
        with torch.no_grad():
            arrays[f"{name}.beta"] = _per_neuron(decay_constants(neuron.beta, profile, profile.beta_range), config.size)
            arrays[f"{name}.threshold"] = _per_neuron(quantize_threshold(neuron.threshold, profile), config.size)
            if neuron.alpha is not None:
                arrays[f"{name}.alpha"] = _per_neuron(decay_constants(neuron.alpha, profile, profile.alpha_range), config.size)
                entry["alpha"] = f"{name}.alpha"
            if neuron.recurrent_linear is not None:
                entry["recurrent"] = _dense_entry(
                    f"{name}.recurrent", neuron.recurrent_linear.integer(), profile.weight_bits, arrays
                )
        entry["levels_dropped"] = full_width_state and neuron.integer_levels is not None
        if neuron.integer_levels is not None and not full_width_state:
            arrays[f"{name}.levels"] = neuron.integer_levels.numpy().astype(np.int64)
            entry["levels"] = f"{name}.levels"
            entry["level_bits"] = config.state_quant.num_bits
        layers.append(entry)
        fan_in = config.size

    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "created_by": f"squat-deploy {__version__}",
        "target": profile.to_dict(),
        "input": {"size": checkpoint.network.input_size, **checkpoint.encoding},
        "output": {"decode": "spike_count", "classes": checkpoint.network.layers[-1].size},
        "layers": layers,
        "source": {"checkpoint_sha256": file_digest(checkpoint_path) if checkpoint_path else None},
    }
    return Artifact(manifest, arrays)
