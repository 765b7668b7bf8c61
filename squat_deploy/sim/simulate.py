"""Run a compiled integer graph with the Numba kernels."""

from __future__ import annotations

import dataclasses

import numpy as np

from squat_deploy.compiler.graph import DenseOp, IntegerGraph
from squat_deploy.errors import UserError
from squat_deploy.sim.kernels import run_layer


@dataclasses.dataclass
class SimulationResult:
    """Per-layer traces, each of shape (batch, time, neurons).

    ``syn`` is None for layers without a synaptic current and ``mem_index``
    is None for layers without a level table.
    """

    layer_names: list[str]
    spikes: list[np.ndarray]
    mem: list[np.ndarray]
    syn: list[np.ndarray | None]
    mem_index: list[np.ndarray | None]

    @property
    def output_spikes(self) -> np.ndarray:
        return self.spikes[-1]


def _dense_arrays(dense: DenseOp | None, size: int):
    if dense is None:
        empty = np.zeros(size, dtype=np.int64)
        return np.zeros((size, size), dtype=np.int64), empty, np.ones(size, dtype=np.int64), empty
    bias = dense.bias if dense.bias is not None else np.zeros(dense.weight.shape[0], dtype=np.int64)
    return (
        np.ascontiguousarray(dense.weight, dtype=np.int64),
        np.ascontiguousarray(bias, dtype=np.int64),
        np.ascontiguousarray(dense.multiplier, dtype=np.int64),
        np.ascontiguousarray(dense.shift, dtype=np.int64),
    )


def simulate(graph: IntegerGraph, inputs: np.ndarray) -> SimulationResult:
    """Run ``inputs`` of shape (batch, time, input_size), integer event counts, through ``graph``."""
    inputs = np.asarray(inputs)
    if inputs.ndim != 3 or inputs.shape[2] != graph.input_size:
        raise UserError(f"inputs must have shape (batch, time, {graph.input_size}), got {inputs.shape}")
    if not np.issubdtype(inputs.dtype, np.integer) and not np.all(np.equal(np.mod(inputs, 1), 0)):
        raise UserError("inputs must hold integer event counts (spikes), not fractional values")
    largest = int(inputs.max(initial=0))
    if largest > graph.profile.max_input_events or int(inputs.min(initial=0)) < 0:
        raise UserError(
            f"inputs hold event counts from {int(inputs.min(initial=0))} to {largest}, but target {graph.profile.name!r} "
            f"takes 0 to {graph.profile.max_input_events} events per input per step (neuron.max_input_events)"
        )
    profile = graph.profile
    incoming = np.ascontiguousarray(inputs, dtype=np.int64)
    result = SimulationResult([], [], [], [], [])
    for layer in graph.layers:
        weight, bias, multiplier, shift = _dense_arrays(layer.dense, layer.size)
        recurrent = _dense_arrays(layer.recurrent, layer.size)
        alpha = layer.alpha if layer.alpha is not None else np.zeros(layer.size, dtype=np.int64)
        levels = layer.levels if layer.levels is not None else np.zeros(1, dtype=np.int64)
        spikes, mem, syn, index = run_layer(
            incoming,
            weight,
            bias,
            multiplier,
            shift,
            *recurrent,
            np.ascontiguousarray(layer.beta, dtype=np.int64),
            np.ascontiguousarray(alpha, dtype=np.int64),
            np.ascontiguousarray(layer.threshold, dtype=np.int64),
            np.ascontiguousarray(levels, dtype=np.int64),
            layer.recurrent is not None,
            layer.synaptic,
            layer.levels is not None,
            layer.reset.code,
            layer.zero_before_decay,
            profile.reset_timing == "same_step",
            profile.comparator.code,
            profile.rescale_rounding.code,
            0 if profile.decay_kind == "multiply" else 1,
            layer.decay_bits,
            profile.decay_rounding.code,
            layer.current_bits,
            profile.current_overflow.code,
            layer.state_bits,
            profile.state_overflow.code,
            layer.input_delay,
            layer.synaptic and profile.synapse == "add_events_then_decay",
            profile.saturate_increment,
            profile.max_spikes_output if layer is graph.layers[-1] else profile.max_spikes,
        )
        result.layer_names.append(layer.name)
        result.spikes.append(spikes)
        result.mem.append(mem)
        result.syn.append(syn if layer.synaptic else None)
        result.mem_index.append(index if layer.levels is not None else None)
        incoming = spikes.astype(np.int64)
    return result
