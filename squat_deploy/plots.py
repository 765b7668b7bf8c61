"""Plots of a sweep: accuracy against bits, state histograms, spike rasters.

Matplotlib runs with the Agg backend, so the plots need no display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from squat_deploy.files import atomic_output

# Methods in the order and colour the plots give them.
_COLOURS = {
    "ptq": "tab:gray",
    "wqat": "tab:brown",
    "sqat-uniform": "tab:blue",
    "sqat-threshold": "tab:orange",
    "wqat+sqat": "tab:green",
    "wqat+sqat-learned": "tab:red",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120, bbox_inches="tight")


def write_plots(folder: Path, rows: list[dict[str, Any]], config) -> list[Path]:
    """Write the sweep's plots into ``folder`` and return their paths."""
    plt = _pyplot()
    written = [plot_accuracy(folder / "accuracy_vs_bits.png", rows, config, plt)]
    showcase = _showcase_cells(rows, config)
    if showcase["histogram"]:
        written.append(plot_state_histograms(folder / "state_histogram.png", folder, showcase["histogram"], plt))
    if showcase["raster"] is not None:
        written.append(plot_raster(folder / "raster.png", folder, showcase["raster"], plt))
    plt.close("all")
    return written


def plot_accuracy(path: Path, rows: list[dict[str, Any]], config, plt) -> Path:
    """Plot integer accuracy against state bits, one panel per weight width and one line per method."""
    by_cell = {(row["method"], row["weight_bits"], row["state_bits"]): row for row in rows}
    positions = list(range(len(config.state_bits)))
    figure, axes = plt.subplots(1, len(config.weight_bits), figsize=(3.2 * len(config.weight_bits), 3.4), sharey=True, squeeze=False)
    for axis, weight_bits in zip(axes[0], config.weight_bits):
        for method in config.methods:
            accuracy = [by_cell[(method, weight_bits, state_bits)]["accuracy_integer"] for state_bits in config.state_bits]
            axis.plot(positions, accuracy, marker="o", label=method, color=_COLOURS.get(method))
        axis.set_xticks(positions, [str(bits) for bits in config.state_bits])
        axis.set_xlabel("state bits")
        axis.set_title(f"weights: {weight_bits}" + (" bits" if weight_bits != "float" else ""))
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("integer accuracy (simulator)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, fontsize=8, loc="lower center", ncol=len(labels), bbox_to_anchor=(0.5, -0.16))
    figure.suptitle("Test accuracy of the deployed integer models", y=1.03)
    _save(figure, path)
    return path


def _showcase_cells(rows: list[dict[str, Any]], config) -> dict[str, Any]:
    """Pick the cells the histogram and raster show: 4-bit tables (else the smallest) at the widest integer weights."""
    state_choices = [bits for bits in config.state_bits if bits != "float"]
    weight_choices = [bits for bits in config.weight_bits if bits != "float"] or list(config.weight_bits)
    by_cell = {(row["method"], row["weight_bits"], row["state_bits"]): row for row in rows}
    histogram = []
    raster = None
    if state_choices:
        state_bits = 4 if 4 in state_choices else min(state_choices)
        weight_bits = max(weight_choices, key=lambda bits: 99 if bits == "float" else bits)
        for method in ("sqat-uniform", "sqat-threshold", "wqat+sqat-learned"):
            row = by_cell.get((method, weight_bits, state_bits))
            if row is not None:
                histogram.append(row)
        preferred = ("wqat+sqat", "wqat+sqat-learned", *config.methods)
        raster = next((by_cell[(m, weight_bits, state_bits)] for m in preferred if (m, weight_bits, state_bits) in by_cell), None)
    elif rows:
        raster = rows[0]
    return {"histogram": histogram, "raster": raster}


def _cell_traces(folder: Path, row: dict[str, Any]) -> dict[str, np.ndarray]:
    name = row["same_as"] or f"{row['method']}_w{row['weight_bits']}_s{row['state_bits']}"
    with np.load(folder / "cells" / f"{name}.npz") as data:
        return {key: data[key] for key in data.files}


def plot_state_histograms(path: Path, folder: Path, rows: list[dict[str, Any]], plt) -> Path:
    """Plot how often the hidden layer's membrane takes each level, one panel per cell, levels marked."""
    figure, axes = plt.subplots(len(rows), 1, figsize=(7, 2.3 * len(rows)), squeeze=False)
    for axis, row in zip(axes[:, 0], rows):
        traces = _cell_traces(folder, row)
        scale = 2.0 ** -int(traces["state_frac_bits"])
        values = traces["hidden_mem_values"] * scale
        counts = traces["hidden_mem_counts"]
        share = counts / counts.sum()
        for level in traces["hidden_levels"] * scale:
            axis.axvline(level, color="0.8", linewidth=0.8, zorder=0)
        axis.bar(values, share, width=0.012, color=_COLOURS.get(row["method"]))
        threshold = float(np.median(traces["threshold"])) * scale
        axis.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:.3f}")
        axis.set_yscale("log")
        axis.set_ylabel("share of states")
        axis.set_title(
            f"{row['method']}, {row['weight_bits']}-bit weights, {row['state_bits']}-bit state: "
            f"accuracy {row['accuracy_integer']:.3f}",
            fontsize=9,
        )
        axis.legend(fontsize=7, loc="upper left")
    axes[-1, 0].set_xlabel("hidden membrane (threshold units); grey lines are the levels")
    figure.tight_layout()
    _save(figure, path)
    return path


def plot_raster(path: Path, folder: Path, row: dict[str, Any], plt) -> Path:
    """Plot one test sample's spikes from the simulator over those of the torch model in target mode."""
    traces = _cell_traces(folder, row)
    torch_spikes = np.concatenate([traces["torch_hidden_spikes"], traces["torch_output_spikes"]], axis=1)
    simulator_spikes = np.concatenate([traces["simulator_hidden_spikes"], traces["simulator_output_spikes"]], axis=1)
    hidden = traces["torch_hidden_spikes"].shape[1]
    differing = int((torch_spikes != simulator_spikes).sum())

    figure, axis = plt.subplots(figsize=(8, 4.5))
    steps, neurons = np.nonzero(torch_spikes)
    axis.scatter(steps, neurons, s=14, marker="o", facecolors="none", edgecolors="tab:blue", label="torch, target mode")
    steps, neurons = np.nonzero(simulator_spikes)
    axis.scatter(steps, neurons, s=4, marker="o", color="tab:red", label="Numba simulator")
    axis.axhline(hidden - 0.5, color="0.5", linewidth=0.8)
    # Fixed limits show every step and every neuron, also those that never spike.
    axis.set_xlim(-0.5, torch_spikes.shape[0] - 0.5)
    axis.set_ylim(-0.5, torch_spikes.shape[1] - 0.5)
    axis.set_xlabel("time step")
    axis.set_ylabel(f"neuron (hidden 0-{hidden - 1}, then outputs)")
    axis.set_title(
        f"{row['method']}, {row['weight_bits']}-bit weights, {row['state_bits']}-bit state, one test sample "
        f"(label {int(traces['sample_label'])}): {differing} differing spikes",
        fontsize=9,
    )
    axis.legend(fontsize=7, loc="upper right")
    _save(figure, path)
    return path
