"""Bit-exact comparison of the simulator with the torch model in target mode.

The torch side is the QAT network's own forward switched to integer
arithmetic; the other side is the Numba kernels running the compiled graph.
Bit-exact means: for every sample, layer, neuron and step, equal spikes and
equal integer states (membrane, and synaptic current where there is one).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from squat_deploy.compiler.graph import IntegerGraph
from squat_deploy.data.digits import SpikeDataset
from squat_deploy.nn.context import Mode
from squat_deploy.nn.network import SpikingNetwork
from squat_deploy.sim.simulate import simulate
from squat_deploy.train import time_major


@dataclasses.dataclass
class Mismatch:
    """The first differing value, in (sample, step, layer, neuron) order."""

    quantity: str  # "spike", "mem" or "syn"
    sample: int
    layer: str
    neuron: int
    step: int
    torch_value: int
    simulator_value: int

    def describe(self) -> str:
        return (
            f"{self.quantity} of sample {self.sample}, layer {self.layer!r}, neuron {self.neuron}, step {self.step}: "
            f"torch {self.torch_value}, simulator {self.simulator_value}"
        )


@dataclasses.dataclass
class VerifyReport:
    target: str
    samples: int
    spike_match_rate: float
    state_match_rate: float
    accuracy_integer: float
    accuracy_torch_target: float
    first_mismatch: Mismatch | None
    # Set when the artifact runs with full-width state but the model was
    # trained with level tables: how far the deployment is from the trained model.
    fidelity: dict[str, float] | None = None

    @property
    def bit_exact(self) -> bool:
        return self.first_mismatch is None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["bit_exact"] = self.bit_exact
        return data


def _first_difference(torch_traces: list[np.ndarray], sim_traces: list[np.ndarray], names: list[str], quantity: str):
    best = None
    for layer_index, (expected, actual) in enumerate(zip(torch_traces, sim_traces)):
        differing = np.argwhere(expected != actual)
        if differing.size == 0:
            continue
        sample, step, neuron = (int(v) for v in differing[0])
        key = (sample, step, layer_index, neuron)
        if best is None or key < best[0]:
            best = (key, Mismatch(quantity, sample, names[layer_index], neuron, step, int(expected[sample, step, neuron]), int(actual[sample, step, neuron])))
    return best


def verify(network: SpikingNetwork, graph: IntegerGraph, dataset: SpikeDataset, batch_size: int = 512) -> VerifyReport:
    """Run ``dataset`` through both implementations and compare every spike and state.

    When the graph has no level table where the network has one (an export
    with full-width state), the torch side runs with full-width state too,
    and the report's ``fidelity`` compares the simulator with the trained
    model that snaps its states.
    """
    levels_dropped = any(
        layer.levels is None and neuron.integer_levels is not None for layer, neuron in zip(graph.layers, network.neurons)
    )
    previous = network.context.use_levels
    network.context.use_levels = not levels_dropped
    try:
        report = _compare(network, graph, dataset, batch_size)
    finally:
        network.context.use_levels = previous
    if levels_dropped:
        report.fidelity = _fidelity(network, graph, dataset, batch_size)
    return report


def _fidelity(network: SpikingNetwork, graph: IntegerGraph, dataset: SpikeDataset, batch_size: int) -> dict[str, float]:
    """Compare the simulator's output spikes with the level-table model's."""
    equal = total = correct = 0
    for start in range(0, len(dataset), batch_size):
        raster = dataset.spikes[start : start + batch_size]
        labels = dataset.labels[start : start + batch_size]
        with torch.no_grad(), network.mode(Mode.TARGET):
            trained = network(time_major(raster, torch.float64)).permute(1, 0, 2).numpy()
        deployed = simulate(graph, raster).output_spikes.astype(np.int64)
        equal += int((trained == deployed).sum())
        total += trained.size
        correct += int((trained.sum(axis=1).argmax(axis=1) == labels).sum())
    return {"output_spike_match_rate": equal / total, "accuracy_with_level_tables": correct / len(dataset)}


def _compare(network: SpikingNetwork, graph: IntegerGraph, dataset: SpikeDataset, batch_size: int) -> VerifyReport:
    names = [layer.name for layer in graph.layers]
    spike_total = spike_equal = state_total = state_equal = 0
    correct_integer = correct_torch = 0
    first = None
    for start in range(0, len(dataset), batch_size):
        raster = dataset.spikes[start : start + batch_size]
        labels = dataset.labels[start : start + batch_size]
        with torch.no_grad(), network.mode(Mode.TARGET):
            recording = network(time_major(raster, torch.float64), record=True)
        # Torch traces are (time, batch, neurons); the simulator's (batch, time, neurons).
        torch_spikes = [trace.permute(1, 0, 2).numpy() for trace in recording.spikes]
        torch_mem = [trace.permute(1, 0, 2).numpy() for trace in recording.mem]
        torch_syn = [None if trace is None else trace.permute(1, 0, 2).numpy() for trace in recording.syn]
        result = simulate(graph, raster)

        sim_spikes = [trace.astype(np.int64) for trace in result.spikes]
        for expected, actual in zip(torch_spikes, sim_spikes):
            spike_total += expected.size
            spike_equal += int((expected == actual).sum())
        state_pairs = [(torch_mem, result.mem, "mem")]
        state_pairs.append(([t for t in torch_syn if t is not None], [s for s in result.syn if s is not None], "syn"))
        for expected_list, actual_list, _ in state_pairs:
            for expected, actual in zip(expected_list, actual_list):
                state_total += expected.size
                state_equal += int((expected == actual).sum())

        if first is None:
            syn_names = [name for name, trace in zip(names, torch_syn) if trace is not None]
            candidates = [
                _first_difference(torch_spikes, sim_spikes, names, "spike"),
                _first_difference(torch_mem, result.mem, names, "mem"),
                _first_difference([t for t in torch_syn if t is not None], [s for s in result.syn if s is not None], syn_names, "syn"),
            ]
            candidates = [c for c in candidates if c is not None]
            if candidates:
                key, mismatch = min(candidates, key=lambda c: c[0])
                mismatch.sample += start
                first = mismatch

        correct_integer += int((result.output_spikes.sum(axis=1).argmax(axis=1) == labels).sum())
        correct_torch += int((torch_spikes[-1].sum(axis=1).argmax(axis=1) == labels).sum())

    return VerifyReport(
        target=graph.profile.name,
        samples=len(dataset),
        spike_match_rate=spike_equal / spike_total,
        state_match_rate=state_equal / state_total,
        accuracy_integer=correct_integer / len(dataset),
        accuracy_torch_target=correct_torch / len(dataset),
        first_mismatch=first,
    )
