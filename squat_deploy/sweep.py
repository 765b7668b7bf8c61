"""The bit-width study: weight bits x state bits x quantization method.

Every cell of the grid is a deployed integer model, evaluated through the
compiler and the Numba simulator and checked bit for bit against the torch
model in target mode. The methods differ in what training quantizes:

- ``ptq``: post-training quantization. A float model (no fake
  quantization at all) is quantized at export, its states snapped to a
  threshold-centred table.
- ``wqat``: weight QAT only. Weights are fake-quantized in training, states
  run at the full width of the state register. They are snapped to a
  threshold-centred table only at export.
- ``sqat-uniform`` and ``sqat-threshold``: stateful QAT only. Float weights
  in training, states snapped to a uniform or a threshold-centred table.
  The weights are quantized at export.
- ``wqat+sqat``: both, with the threshold-centred table.
- ``wqat+sqat-learned``: both, with learnable levels initialised
  threshold-centred and kept sorted.

``float`` weight bits deploy 16-bit weights, the reference width of the
study. ``float`` state bits deploy full-width states without a level table.
Every method starts from the same float model and fine-tunes it for the
same number of epochs. A cell whose method has nothing to quantize
(weight QAT with float weights, for instance) is the same model as a
simpler cell and is recorded as ``same_as`` that cell.

The output folder keeps one model per training and one JSON file per cell,
each written atomically. An interrupted sweep resumes from them when it runs
again with the same settings.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from squat_deploy import __version__
from squat_deploy.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from squat_deploy.compiler import compile_artifact
from squat_deploy.data.digits import SpikeDataset
from squat_deploy.errors import UserError
from squat_deploy.export import export_checkpoint
from squat_deploy.files import atomic_output
from squat_deploy.nn.context import Mode
from squat_deploy.nn.network import NetworkConfig, SpikingNetwork
from squat_deploy.nn.neurons import StateQuantSpec
from squat_deploy.pipeline import verification_summary
from squat_deploy.profiles import TargetProfile, load_target
from squat_deploy.quant.levels import LevelScheme
from squat_deploy.sim.simulate import simulate
from squat_deploy.train import TrainConfig, config_record, evaluate, fit, load_training_data, seed_everything, time_major

log = logging.getLogger(__name__)

FLOAT = "float"
# Weight width that represents float weights in the integer simulator.
REFERENCE_WEIGHT_BITS = 16
SWEEP_FORMAT = "squat-deploy-sweep"
SWEEP_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Method:
    """Training settings of one quantization method."""

    name: str
    weight_qat: bool
    state_scheme: str | None  # None: no state quantization in training
    learnable: bool = False
    label: str = ""


METHODS = {
    method.name: method
    for method in (
        Method("ptq", False, None, label="post-training quantization"),
        Method("wqat", True, None, label="weight QAT only"),
        Method("sqat-uniform", False, "uniform", label="stateful QAT, uniform levels"),
        Method("sqat-threshold", False, "threshold-centered", label="stateful QAT, threshold-centred levels"),
        Method("wqat+sqat", True, "threshold-centered", label="weight QAT + stateful QAT"),
        Method("wqat+sqat-learned", True, "threshold-centered", learnable=True, label="weight QAT + stateful QAT, learnable levels"),
    )
}
# The table that methods without stateful QAT deploy with.
DEPLOY_SCHEME = "threshold-centered"


def parse_bits(text: str, what: str, minimum: int = 1) -> list[int | str]:
    """Parse a comma-separated list of bit widths from ``minimum`` to 16 and ``float``, e.g. ``float,8,4,2``."""
    values: list[int | str] = []
    for item in (part.strip().lower() for part in text.split(",")):
        if item == FLOAT:
            values.append(FLOAT)
            continue
        try:
            bits = int(item)
        except ValueError:
            raise UserError(f"invalid {what} {item!r}; give a comma-separated list of whole numbers and 'float', e.g. float,8,4,2") from None
        if not minimum <= bits <= 16:
            raise UserError(f"invalid {what} {bits}; use {minimum} to 16 bits, or 'float'")
        values.append(bits)
    if not values or len(set(values)) != len(values):
        raise UserError(f"invalid {what} {text!r}; list each width once")
    return values


def parse_methods(text: str) -> list[str]:
    """Parse a comma-separated list of method names; ``all`` selects every method."""
    if text.strip().lower() == "all":
        return list(METHODS)
    parts = [part.strip() for part in text.split(",")]
    names = [part for part in parts if part]
    unknown = [name for name in names if name not in METHODS]
    if unknown or not names:
        raise UserError(f"invalid method {(unknown or [text])[0]!r}; choose from {', '.join(METHODS)}")
    if "" in parts:
        raise UserError(f"invalid methods {text!r}; give method names separated by single commas")
    if len(set(names)) != len(names):
        raise UserError(f"invalid methods {text!r}; list each method once")
    return names


# Training settings that every cell sets for itself, so they do not belong to a sweep's settings.
IGNORED_TRAIN_FIELDS = ("state_bits", "state_scheme", "learnable_levels", "weight_qat", "float_epochs", "qat_learning_rate")


@dataclasses.dataclass
class SweepConfig:
    """A sweep: the model and data settings (``train``), the grid, and the fine-tuning."""

    train: TrainConfig
    weight_bits: list[int | str] = dataclasses.field(default_factory=lambda: [FLOAT, 8, 4, 2])
    state_bits: list[int | str] = dataclasses.field(default_factory=lambda: [FLOAT, 8, 4, 2])
    methods: list[str] = dataclasses.field(default_factory=lambda: list(METHODS))
    finetune_epochs: int = 5
    finetune_learning_rate: float = 1e-3
    plots: bool = True

    def settings(self) -> dict[str, Any]:
        """Everything a cell's result depends on; the grid axes may change between runs of a folder."""
        train = config_record(self.train)
        for name in IGNORED_TRAIN_FIELDS:
            train.pop(name, None)
        return {
            "version": __version__,
            "train": train,
            "finetune_epochs": self.finetune_epochs,
            "finetune_learning_rate": self.finetune_learning_rate,
            "reference_weight_bits": REFERENCE_WEIGHT_BITS,
            "deploy_scheme": DEPLOY_SCHEME,
        }


@dataclasses.dataclass(frozen=True)
class Cell:
    method: str
    weight_bits: int | str
    state_bits: int | str

    @property
    def name(self) -> str:
        return f"{self.method}_w{self.weight_bits}_s{self.state_bits}"

    def canonical(self) -> "Cell":
        """Return the simplest cell that trains and deploys the same model."""
        method = METHODS[self.method]
        float_weights = self.weight_bits == FLOAT
        float_state = self.state_bits == FLOAT
        weight_qat = method.weight_qat and not float_weights
        state_qat = method.state_scheme is not None and not float_state
        if not weight_qat and not state_qat:
            return Cell("ptq", self.weight_bits, self.state_bits)
        if not state_qat:
            return Cell("wqat", self.weight_bits, self.state_bits)
        if not weight_qat and not method.learnable:
            scheme = "sqat-uniform" if method.state_scheme == "uniform" else "sqat-threshold"
            return Cell(scheme, self.weight_bits, self.state_bits)
        return self

    def training_key(self) -> str:
        """Return the name of the trained model this (canonical) cell deploys."""
        method = METHODS[self.method]
        if self.method == "ptq":
            return "float"
        weights = self.weight_bits if method.weight_qat and self.weight_bits != FLOAT else FLOAT
        state = self.state_bits if method.state_scheme is not None else FLOAT
        return f"{self.method}_w{weights}_s{state}"


def variant_profile(profile: TargetProfile, weight_bits: int | str) -> TargetProfile:
    """Return ``profile`` with ``weight_bits`` weights (16 for float)."""
    bits = REFERENCE_WEIGHT_BITS if weight_bits == FLOAT else int(weight_bits)
    return dataclasses.replace(profile, name=f"{profile.name}-w{bits}", weight_bits=bits)


def _with_state(config: NetworkConfig, spec: StateQuantSpec | None) -> NetworkConfig:
    layers = [dataclasses.replace(layer, state_quant=spec) for layer in config.layers]
    return NetworkConfig(config.input_size, layers)


def _state_spec(bits: int | str, scheme: str, learnable: bool, train: TrainConfig) -> StateQuantSpec | None:
    if bits == FLOAT:
        return None
    return StateQuantSpec(int(bits), LevelScheme(scheme), lower_limit=train.lower_limit, upper_limit=train.upper_limit, learnable=learnable)


class Sweep:
    """Runs the grid in ``folder``, reusing every model and cell already there."""

    def __init__(self, config: SweepConfig, folder: str | Path, progress: bool = True):
        self.config = config
        self.folder = Path(folder)
        self.progress = progress
        self.profile = load_target(config.train.target)
        self.train_config = config.train.resolved(self.profile)
        self.train_config.state_bits = None
        self.train_config.learnable_levels = False
        self.train_config.validate()
        self._check_grid()
        # Trained models by training key: many cells deploy the same one.
        self._models: dict[str, Checkpoint] = {}

    def _check_grid(self) -> None:
        profile = self.profile
        for bits in self.config.state_bits:
            if bits != FLOAT and not profile.level_tables:
                raise UserError(f"target {profile.name!r} has no level tables; sweep it with --state-bits float only")
            if bits != FLOAT and int(bits) > profile.max_level_bits:
                raise UserError(f"state bits {bits} exceed the {profile.max_level_bits}-bit level index of {profile.name!r}; drop it from --state-bits")
        for name in self.config.methods:
            if name not in METHODS:
                raise UserError(f"invalid method {name!r}; choose from {', '.join(METHODS)}")

    # Folder layout -------------------------------------------------------

    def cells(self) -> list[Cell]:
        return [Cell(m, w, s) for m in self.config.methods for w in self.config.weight_bits for s in self.config.state_bits]

    def _model_path(self, key: str) -> Path:
        return self.folder / "models" / f"{key}.pt"

    def _cell_path(self, cell: Cell) -> Path:
        return self.folder / "cells" / f"{cell.name}.json"

    def _open_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        record = self.folder / "sweep.json"
        settings = self.config.settings()
        if record.exists():
            try:
                stored = json.loads(record.read_text())
            except (OSError, json.JSONDecodeError):
                raise UserError(f"{record} is unreadable; delete the folder or pass another --output") from None
            if stored.get("format") != SWEEP_FORMAT or stored.get("settings") != settings:
                raise UserError(
                    f"{self.folder} contains a sweep with other settings (model, data, epochs or version); "
                    f"pass another --output, or --restart to discard it"
                )
            return
        _write_text(record, json.dumps({"format": SWEEP_FORMAT, "version": SWEEP_VERSION, "settings": settings}, indent=2, default=str))

    # Running -------------------------------------------------------------

    def run(self) -> list[dict[str, Any]]:
        """Train what is missing, evaluate every cell not yet done, and write the table and plots."""
        self._open_folder()
        started = time.perf_counter()
        seed_everything(self.train_config.seed)
        self.encoding, self.train_set, self.test_set = load_training_data(self.train_config, self.profile, progress=self.progress)

        cells = self.cells()
        results: dict[str, dict[str, Any]] = {}
        bar = tqdm(cells, desc="sweep", unit="cell", disable=not self.progress)
        for cell in bar:
            bar.set_postfix_str(cell.name)
            results[cell.name] = self._cell_result(cell, results)
        rows = [results[cell.name] for cell in cells]
        write_tables(self.folder, rows, self.config)
        if self.config.plots:
            from squat_deploy.plots import write_plots

            write_plots(self.folder, rows, self.config)
        log.info("sweep finished in %.1f s", time.perf_counter() - started)
        return rows

    def _cell_result(self, cell: Cell, done: dict[str, dict[str, Any]]) -> dict[str, Any]:
        canonical = cell.canonical()
        if canonical != cell:
            if canonical.name not in done:
                done[canonical.name] = self._cell_result(canonical, done)
            return {**done[canonical.name], "method": cell.method, "weight_bits": cell.weight_bits, "state_bits": cell.state_bits, "same_as": canonical.name}
        path = self._cell_path(cell)
        if path.exists():
            try:
                return json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                log.warning("ignoring unreadable cell result %s; evaluating it again", path)
        result = self._evaluate(cell)
        _write_text(path, json.dumps(result, indent=2))
        return result

    def _trained(self, cell: Cell) -> Checkpoint:
        """Return the model ``cell`` deploys, training (and saving) it when missing."""
        key = cell.training_key()
        if key in self._models:
            return self._models[key]
        path = self._model_path(key)
        if path.exists():
            checkpoint = load_checkpoint(path)
        else:
            checkpoint = self._train_float() if key == "float" else self._finetune(cell, key)
            save_checkpoint(path, checkpoint)
        self._models[key] = checkpoint
        return checkpoint

    def _train_float(self) -> Checkpoint:
        config = self.train_config
        started = time.perf_counter()
        seed_everything(config.seed)
        network_config = config.network_config(self.train_set.spikes.shape[2], max(self.train_set.num_classes, self.test_set.num_classes))
        profile = variant_profile(self.profile, FLOAT)
        network = SpikingNetwork(network_config, profile)
        fit(network, self.train_set, config.epochs, config.batch_size, config.learning_rate, config.seed, mode=Mode.FLOAT, progress=self.progress, description="float model")
        return self._checkpoint(network, profile, "float", time.perf_counter() - started)

    def _finetune(self, cell: Cell, key: str) -> Checkpoint:
        method = METHODS[cell.method]
        base = self._trained(Cell("ptq", FLOAT, FLOAT))
        started = time.perf_counter()
        seed_everything(self.train_config.seed)
        weight_bits = cell.weight_bits if method.weight_qat else FLOAT
        profile = variant_profile(self.profile, weight_bits)
        spec = _state_spec(cell.state_bits, method.state_scheme, method.learnable, self.train_config) if method.state_scheme else None
        network = SpikingNetwork(_with_state(base.network, spec), profile)
        # Level parameters of a learnable table are new; everything else comes from the float model.
        missing, unexpected = network.load_state_dict(base.state_dict, strict=False)
        if unexpected or any(not name.endswith(("level_offset", "level_log_scales")) for name in missing):
            raise RuntimeError(f"float model does not fit the {key} network: missing {missing}, unexpected {unexpected}")
        network.context.weight_qat = method.weight_qat
        config = self.train_config
        fit(
            network,
            self.train_set,
            self.config.finetune_epochs,
            config.batch_size,
            self.config.finetune_learning_rate,
            config.seed,
            mode=Mode.FAKE_QUANT,
            progress=self.progress,
            description=key,
        )
        network.context.weight_qat = True
        return self._checkpoint(network, profile, key, time.perf_counter() - started)

    def _checkpoint(self, network: SpikingNetwork, profile: TargetProfile, key: str, seconds: float) -> Checkpoint:
        return Checkpoint(
            network=network.config,
            profile=profile,
            state_dict={name: value.detach().clone() for name, value in network.state_dict().items()},
            encoding=self.encoding,
            training={"sweep_model": key, "config": config_record(self.train_config), "seconds": seconds},
        )

    def _evaluate(self, cell: Cell) -> dict[str, Any]:
        """Deploy ``cell``'s model at its widths, compile it, simulate it and verify it."""
        trained = self._trained(cell)
        method = METHODS[cell.method]
        started = time.perf_counter()

        scheme = method.state_scheme or DEPLOY_SCHEME
        spec = _state_spec(cell.state_bits, scheme, method.learnable, self.train_config)
        checkpoint = dataclasses.replace(
            trained,
            network=_with_state(trained.network, spec),
            profile=variant_profile(self.profile, cell.weight_bits),
        )
        artifact = export_checkpoint(checkpoint)
        graph = compile_artifact(artifact)
        network = checkpoint.build_network()

        summary = verification_summary(network, graph, self.test_set)
        traces = _traces(network, graph, self.test_set)
        # The traces go first: a cell counts as done once its JSON file exists.
        with atomic_output(self.folder / "cells" / f"{cell.name}.npz", create_folder=True) as temporary, open(temporary, "wb") as stream:
            np.savez_compressed(stream, **traces)
        return {
            "method": cell.method,
            "weight_bits": cell.weight_bits,
            "state_bits": cell.state_bits,
            "same_as": None,
            "model": cell.training_key(),
            "training_seconds": trained.training.get("seconds"),
            "accuracy_integer": summary["accuracy_integer"],
            "accuracy_fake_quant": summary["accuracy_fake_quant"],
            "accuracy_float": summary["accuracy_float"],
            "bit_exact": summary["bit_exact"],
            "spike_match_rate": summary["spike_match_rate"],
            "state_match_rate": summary["state_match_rate"],
            "footprint_bytes": summary["footprint_bytes"],
            "test_samples": summary["test_samples"],
            "evaluation_seconds": time.perf_counter() - started,
        }


def _traces(network: SpikingNetwork, graph, dataset: SpikeDataset) -> dict[str, np.ndarray]:
    """Return what the plots need: the hidden layer's state histogram and one sample's spikes from both sides."""
    result = simulate(graph, dataset.spikes)
    values, counts = np.unique(result.mem[0], return_counts=True)
    with torch.no_grad(), network.mode(Mode.TARGET):
        recording = network(time_major(dataset.spikes[:1], torch.float64), record=True)
    levels = graph.layers[0].levels
    return {
        "hidden_mem_values": values.astype(np.int64),
        "hidden_mem_counts": counts.astype(np.int64),
        "hidden_levels": np.asarray([] if levels is None else levels, dtype=np.int64),
        "state_frac_bits": np.int64(graph.profile.state_frac_bits),
        "threshold": np.asarray(graph.layers[0].threshold, dtype=np.int64),
        "sample_label": np.int64(dataset.labels[0]),
        "torch_hidden_spikes": recording.spikes[0][:, 0].numpy().astype(np.int64),
        "torch_output_spikes": recording.spikes[-1][:, 0].numpy().astype(np.int64),
        "simulator_hidden_spikes": result.spikes[0][0].astype(np.int64),
        "simulator_output_spikes": result.spikes[-1][0].astype(np.int64),
    }


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as temporary:
        Path(temporary).write_text(text)


COLUMNS = (
    "method",
    "weight_bits",
    "state_bits",
    "accuracy_integer",
    "accuracy_fake_quant",
    "accuracy_float",
    "bit_exact",
    "spike_match_rate",
    "state_match_rate",
    "footprint_bytes",
    "model",
    "same_as",
    "test_samples",
    "training_seconds",
    "evaluation_seconds",
)


def write_tables(folder: Path, rows: list[dict[str, Any]], config: SweepConfig) -> None:
    """Write ``results.csv`` (one row per cell) and ``results.md`` (integer accuracy by method, weight and state bits)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    _write_text(folder / "results.csv", buffer.getvalue())
    _write_text(folder / "results.md", markdown_table(rows, config))


def markdown_table(rows: list[dict[str, Any]], config: SweepConfig) -> str:
    """Return the integer accuracy of every cell as a markdown table, one row per method and weight width."""
    by_cell = {(row["method"], row["weight_bits"], row["state_bits"]): row for row in rows}
    header = "| method | weight bits | " + " | ".join(f"state {bits}" for bits in config.state_bits) + " |"
    lines = [header, "|---|---|" + "---|" * len(config.state_bits)]
    for method in config.methods:
        for weight_bits in config.weight_bits:
            entries = []
            for state_bits in config.state_bits:
                row = by_cell[(method, weight_bits, state_bits)]
                mark = "" if row["bit_exact"] else " (not bit-exact)"
                entries.append(f"{row['accuracy_integer']:.4f}{mark}")
            lines.append(f"| {method} | {weight_bits} | " + " | ".join(entries) + " |")
    float_rows = [row for row in rows if row["model"] == "float"]
    notes = [
        "",
        "Integer accuracy on the test split, from the Numba simulator. Weight bits `float` deploy "
        f"{REFERENCE_WEIGHT_BITS}-bit weights; state bits `float` deploy full-width states without a level table.",
    ]
    if float_rows:
        notes.append(f"The float model before quantization (torch, float mode) reaches {float_rows[0]['accuracy_float']:.4f}.")
    return "\n".join(lines + notes) + "\n"
