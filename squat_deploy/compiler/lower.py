"""Lower an artifact to an integer graph under a target profile."""

from __future__ import annotations

from typing import Any

import numpy as np

from squat_deploy.artifact import Artifact
from squat_deploy.compiler.checks import check_graph
from squat_deploy.compiler.footprint import check_resources, estimate_footprint
from squat_deploy.compiler.graph import DenseOp, IntegerGraph, NeuronOp
from squat_deploy.errors import UserError
from squat_deploy.nn.neurons import NEURON_TYPES
from squat_deploy.profiles import TargetProfile, profile_from_dict
from squat_deploy.quant.modes import Reset


def artifact_profile(artifact: Artifact) -> TargetProfile:
    """Return the target profile embedded in an artifact."""
    return profile_from_dict(artifact.manifest.get("target", {}), "artifact manifest, field target")


def compile_artifact(artifact: Artifact, profile: TargetProfile | None = None) -> IntegerGraph:
    """Lower ``artifact`` for ``profile`` (its own target when None) and check every width.

    A profile other than the artifact's own must share its state grid and
    decay width, because the exported integers are expressed on them.
    """
    own = artifact_profile(artifact)
    if profile is None:
        profile = own
    elif (profile.state_frac_bits, profile.decay_bits) != (own.state_frac_bits, own.decay_bits):
        raise UserError(
            f"target {profile.name!r} uses state.frac_bits={profile.state_frac_bits} and decay.bits={profile.decay_bits}, "
            f"but the artifact was exported for {own.name!r} with {own.state_frac_bits} and {own.decay_bits}; "
            f"train and export for {profile.name!r} instead"
        )

    manifest = artifact.manifest
    layers_meta = _field(manifest, "layers", list, "manifest")
    if not layers_meta:
        raise UserError("corrupt artifact: the manifest lists no layers")
    input_size = _field(_field(manifest, "input", dict, "manifest"), "size", int, "input")
    num_steps = manifest["input"].get("num_steps")

    layers = []
    fan_in = input_size
    for index, meta in enumerate(layers_meta):
        where = f"layers[{index}]"
        delay = profile.input_delay if index == 0 else profile.dense_delay
        # Only the network input carries event counts above one; layers emit single spikes.
        events = profile.max_input_events if index == 0 else 1
        layer = _lower_layer(artifact, meta, where, fan_in, profile, delay, events)
        layers.append(layer)
        fan_in = layer.size
    graph = IntegerGraph(input_size, num_steps, layers, profile, manifest)
    check_graph(graph)
    check_resources(estimate_footprint(graph))
    return graph


def _lower_layer(
    artifact: Artifact, meta: Any, where: str, fan_in: int, profile: TargetProfile, delay: int, events: int
) -> NeuronOp:
    if not isinstance(meta, dict):
        raise UserError(f"corrupt artifact: {where} must be an object")
    name = _field(meta, "name", str, where)
    where = f"layer {name!r}"
    neuron_type = _field(meta, "neuron_type", str, where)
    if neuron_type not in NEURON_TYPES:
        raise UserError(f"{where}: unknown neuron type {neuron_type!r}; supported types are {', '.join(NEURON_TYPES)}")
    size = _field(meta, "size", int, where)
    try:
        reset = Reset(_field(meta, "reset", str, where))
    except ValueError:
        raise UserError(f"{where}: invalid reset {meta['reset']!r}; allowed values are subtract, zero, none") from None

    dense = _lower_dense(artifact, _field(meta, "dense", dict, where), f"{where} dense", (size, fan_in), profile, events)
    recurrent = None
    if neuron_type in ("RLeaky", "RSynaptic"):
        recurrent = _lower_dense(artifact, _field(meta, "recurrent", dict, where), f"{where} recurrent", (size, size), profile, 1)
    alpha = None
    if neuron_type in ("Synaptic", "RSynaptic"):
        alpha = _vector(artifact, _field(meta, "alpha", str, where), f"{where} alpha", size)
    levels = None
    level_bits = None
    if meta.get("levels") is not None:
        levels = artifact.array(meta["levels"], f"{where} levels").astype(np.int64).reshape(-1)
        level_bits = _field(meta, "level_bits", int, where)

    return NeuronOp(
        name=name,
        neuron_type=neuron_type,
        size=size,
        reset=reset,
        beta=_vector(artifact, _field(meta, "beta", str, where), f"{where} beta", size),
        alpha=alpha,
        threshold=_vector(artifact, _field(meta, "threshold", str, where), f"{where} threshold", size),
        levels=levels,
        level_bits=level_bits,
        dense=dense,
        recurrent=recurrent,
        input_delay=delay,
        decay_bits=profile.decay_bits,
        current_bits=profile.current_bits,
        state_bits=profile.state_bits,
        threshold_bits=profile.threshold_bits,
    )


def _lower_dense(
    artifact: Artifact, meta: dict, where: str, shape: tuple[int, int], profile: TargetProfile, max_events: int
) -> DenseOp:
    weight = artifact.array(_field(meta, "weight", str, where), f"{where} weight").astype(np.int64)
    if weight.shape != shape:
        raise UserError(f"corrupt artifact: {where} weight has shape {weight.shape}, expected {shape}")
    bias = None
    if meta.get("bias") is not None:
        bias = _vector(artifact, meta["bias"], f"{where} bias", shape[0])
    multiplier = _vector(artifact, _field(meta, "multiplier", str, where), f"{where} multiplier", shape[0])
    shift = _vector(artifact, _field(meta, "shift", str, where), f"{where} shift", shape[0])
    worst = np.abs(weight).sum(axis=1) * max_events
    if bias is not None:
        worst = worst + np.abs(bias)
    return DenseOp(
        weight=weight,
        bias=bias,
        multiplier=multiplier,
        shift=shift,
        weight_bits=profile.weight_bits,
        accumulator_bits=profile.accumulator_bits,
        max_accumulator=int(worst.max()) if worst.size else 0,
    )


def _vector(artifact: Artifact, name: str, where: str, size: int) -> np.ndarray:
    array = artifact.array(name, where).astype(np.int64)
    if array.ndim == 0 or array.shape == (1,):
        return np.full(size, int(array.reshape(-1)[0]), dtype=np.int64)
    if array.shape != (size,):
        raise UserError(f"corrupt artifact: {where} has shape {array.shape}, expected ({size},) or a scalar")
    return array


def _field(mapping: dict, key: str, kind: type, where: str):
    if key not in mapping:
        raise UserError(f"corrupt artifact: {where} is missing the field {key!r}")
    value = mapping[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"corrupt artifact: {where} field {key!r} must be {kind.__name__}, got {value!r}")
    return value
