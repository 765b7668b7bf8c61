"""Quantization-aware training and evaluation of spiking classifiers.

The network reads a spike raster over time and the class is the output
neuron with the most spikes (the lowest index on a tie). Training minimises
the cross-entropy of the output spike counts, in fake-quantized mode, so the
weights, decays, thresholds and states the network learns with are those the
target will hold.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from squat_deploy.checkpoint import Checkpoint
from squat_deploy.data import DATASETS, load_split
from squat_deploy.data.digits import SpikeDataset
from squat_deploy.errors import UserError
from squat_deploy.nn.context import Mode
from squat_deploy.nn.network import LayerConfig, NetworkConfig, SpikingNetwork
from squat_deploy.nn.neurons import NEURON_TYPES, StateQuantSpec
from squat_deploy.profiles import TargetProfile, load_target
from squat_deploy.quant.levels import LevelScheme

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainConfig:
    """Everything that decides a training run; equal configs give equal models."""

    target: str = "fpga-int8"
    dataset: str = "digits"  # digits, fsdd, shd or nmnist
    data: str | None = None  # folder of the dataset's files; digits needs none
    split: str = "index"  # fsdd: "index" (recordings 0-4 test) or "speaker"
    test_speakers: tuple[str, ...] = ("theo",)  # fsdd with split "speaker"
    filterbank: str = "mel"  # fsdd: mel or gammatone
    channels: int | str = "auto"  # fsdd bands: 16, or fewer where the target takes fewer inputs
    encoder: str = "delta"  # fsdd: delta or threshold
    hidden_size: int = 128
    hidden_type: str = "auto"  # RLeaky, or RSynaptic where the target has only synaptic neurons
    output_type: str = "auto"  # Leaky, or Synaptic likewise
    reset: str = "auto"  # the target's first supported reset
    num_steps: int | str = "auto"  # digits 16, fsdd 40 (20 ms frames), shd and nmnist 32
    state_bits: int | str | None = "auto"  # 4 where the target has level tables, else None
    state_scheme: str = "threshold-centered"
    learnable_levels: bool = False
    weight_qat: bool = True
    lower_limit: float = 0.0
    upper_limit: float = 0.2
    input_pooling: int | str = "auto"  # digits: 2 where the target takes fewer than 64 inputs
    classes: int | str = "auto"  # the dataset's classes, or the target's output limit when lower
    learn_beta: bool = True
    learn_threshold: bool = False
    epochs: int = 15
    # Epochs of plain float training before the quantization-aware epochs.
    float_epochs: int = 0
    batch_size: int = 64
    learning_rate: float = 5e-3
    qat_learning_rate: float | None = None  # learning rate of the QAT epochs after float epochs; None: learning_rate
    seed: int = 0
    limit: int | None = None

    def resolved(self, profile: TargetProfile) -> "TrainConfig":
        """Return a copy with every "auto" field replaced by the target's choice."""
        config = dataclasses.replace(self)
        config.test_speakers = tuple(config.test_speakers)
        max_inputs = profile.resources.max_inputs
        if config.reset == "auto":
            config.reset = profile.resets[0].value
        if config.state_bits == "auto":
            config.state_bits = 4 if profile.level_tables else None
        if config.num_steps == "auto":
            config.num_steps = {"digits": 16, "fsdd": 40}.get(config.dataset, 32)
        if config.input_pooling == "auto":
            config.input_pooling = _auto_pooling(config.dataset, max_inputs)
        if config.channels == "auto":
            per_band = 2 if config.encoder == "delta" else 1
            config.channels = max(1, min(16, max_inputs // per_band))
        if config.classes == "auto":
            config.classes = min(DATASET_CLASSES.get(config.dataset, 10), profile.resources.max_outputs)
        if config.hidden_type == "auto":
            config.hidden_type = "RLeaky" if "RLeaky" in profile.neuron_types else "RSynaptic"
        if config.output_type == "auto":
            config.output_type = "Leaky" if "Leaky" in profile.neuron_types else "Synaptic"
        return config

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise UserError(f"invalid dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.dataset == "digits" and self.data:
            raise UserError("--data applies to the datasets read from files (fsdd, shd, nmnist); pass --dataset with it, or drop --data for the bundled digits")
        if self.dataset != "digits" and not self.data:
            raise UserError(f"dataset {self.dataset!r} reads local files; pass their folder with --data PATH")
        for label, value in (("hidden type", self.hidden_type), ("output type", self.output_type)):
            if value not in NEURON_TYPES:
                raise UserError(f"invalid {label} {value!r}; choose one of {', '.join(NEURON_TYPES)}")
        if self.state_bits is not None and (not isinstance(self.state_bits, int) or not 1 <= self.state_bits <= 16):
            raise UserError(f"invalid state bits {self.state_bits}; use 1 to 16, or none for full-width state")
        if self.learnable_levels and self.state_bits is None:
            raise UserError("learnable levels need a level table; pass --state-bits with a number of bits")
        try:
            LevelScheme(self.state_scheme)
        except ValueError:
            allowed = ", ".join(scheme.value for scheme in LevelScheme)
            raise UserError(f"invalid state scheme {self.state_scheme!r}; choose one of {allowed}") from None
        for label, value in (("hidden size", self.hidden_size), ("steps", self.num_steps), ("epochs", self.epochs), ("batch size", self.batch_size)):
            if value < 1:
                raise UserError(f"invalid {label} {value}; it must be at least 1")
        if self.dataset == "digits" and self.input_pooling not in (1, 2, 4, 8):
            raise UserError(f"invalid input pooling {self.input_pooling} for the 8x8 digits; use 1, 2, 4 or 8 (a divisor of 8)")
        if self.float_epochs < 0:
            raise UserError(f"invalid float epochs {self.float_epochs}; it must be 0 or more")

    def state_spec(self) -> StateQuantSpec | None:
        if self.state_bits is None:
            return None
        return StateQuantSpec(
            num_bits=self.state_bits,
            scheme=LevelScheme(self.state_scheme),
            lower_limit=self.lower_limit,
            upper_limit=self.upper_limit,
            learnable=self.learnable_levels,
        )

    def network_config(self, input_size: int, num_classes: int) -> NetworkConfig:
        spec = self.state_spec()
        learn = {"learn_beta": self.learn_beta, "learn_alpha": self.learn_beta, "learn_threshold": self.learn_threshold}
        return NetworkConfig(
            input_size,
            [
                LayerConfig("hidden", self.hidden_type, self.hidden_size, reset=self.reset, state_quant=spec, **learn),
                LayerConfig("output", self.output_type, num_classes, reset=self.reset, state_quant=spec, **learn),
            ],
        )

    def encoding(self, profile: TargetProfile) -> dict[str, Any]:
        """Return the record from which ``load_split`` rebuilds this run's rasters (a resolved config)."""
        common = {"dataset": self.dataset, "classes": self.classes, "limit": self.limit}
        if self.dataset == "digits":
            return {
                **common,
                "encoder": "rate_integrate_fire",
                "num_steps": self.num_steps,
                "split_seed": self.seed,
                "pooling": self.input_pooling,
            }
        path = str(Path(self.data).expanduser().resolve())
        max_events = min(4 if self.dataset == "fsdd" else 15, profile.max_input_events)
        if self.dataset == "fsdd":
            from squat_deploy.data.fsdd import FrontEnd

            front_end = FrontEnd(
                filterbank=self.filterbank,
                channels=self.channels,
                encoder=self.encoder,
                num_steps=self.num_steps,
                max_events=max_events,
            )
            front_end.validate()
            return {**common, "path": path, "front_end": front_end.to_dict(), "split": self.split, "test_speakers": list(self.test_speakers)}
        duration = 1.0 if self.dataset == "shd" else 0.3
        return {
            **common,
            "path": path,
            "num_steps": self.num_steps,
            "duration": duration,
            "pooling": self.input_pooling,
            "max_events": max_events,
        }


# Classes of each dataset before a target's output limit.
DATASET_CLASSES = {"digits": 10, "fsdd": 10, "shd": 20, "nmnist": 10}


def _auto_pooling(dataset: str, max_inputs: int) -> int:
    """Return the input pooling that fits ``max_inputs``: the finest the dataset's default allows."""
    if dataset == "digits":
        return 1 if max_inputs >= 64 else 2
    if dataset == "shd":
        pooling = 10  # 70 channels from 700 units
        while -(-700 // pooling) > max_inputs:
            pooling += 1
        return pooling
    if dataset == "nmnist":
        pooling = 2  # 2 x 17 x 17 channels from 2 x 34 x 34 pixels
        while 2 * (-(-34 // pooling)) ** 2 > max_inputs:
            pooling += 1
        return pooling
    return 1


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def time_major(spikes: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    """Turn a (batch, time, inputs) raster into a (time, batch, inputs) tensor."""
    return torch.as_tensor(spikes).permute(1, 0, 2).to(dtype)


def predict(counts: torch.Tensor) -> torch.Tensor:
    """Return the class with most spikes; argmax takes the first index on a tie."""
    return counts.argmax(dim=-1)


def evaluate(network: SpikingNetwork, dataset: SpikeDataset, mode: Mode, batch_size: int = 256) -> float:
    """Return the accuracy of ``network`` on ``dataset`` in ``mode``.

    Fake-quantized evaluation runs in float64, where every value on the
    target's grids is exact.
    """
    correct = 0
    dtype = torch.float64 if mode is Mode.FAKE_QUANT else torch.float32
    network = network.to(dtype)
    with torch.no_grad(), network.mode(mode):
        for start in range(0, len(dataset), batch_size):
            inputs = time_major(dataset.spikes[start : start + batch_size], dtype)
            counts = network(inputs).sum(dim=0)
            labels = torch.as_tensor(dataset.labels[start : start + batch_size])
            correct += int((predict(counts) == labels).sum())
    network.to(torch.float32)
    return correct / len(dataset)


def fit(
    network: SpikingNetwork,
    train_set: SpikeDataset,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 5e-3,
    seed: int = 0,
    mode: Mode = Mode.FAKE_QUANT,
    progress: bool = True,
    description: str = "train",
) -> None:
    """Train ``network`` in ``mode`` with Adam and a cosine schedule.

    Fake-quantized mode is quantization-aware training; float mode trains
    the float model that post-training quantization starts from. The
    network's context decides what fake-quantized mode rounds (weights
    unless ``weight_qat`` is off, states to level tables unless
    ``use_levels`` is off).
    """
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    generator = torch.Generator().manual_seed(seed)
    loss_function = torch.nn.CrossEntropyLoss()

    bar = tqdm(range(epochs), desc=description, unit="epoch", disable=not progress, leave=False)
    for _ in bar:
        order = torch.randperm(len(train_set), generator=generator).numpy()
        total_loss, correct = 0.0, 0
        with network.mode(mode):
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                inputs = time_major(train_set.spikes[batch])
                labels = torch.as_tensor(train_set.labels[batch])
                counts = network(inputs).sum(dim=0)
                loss = loss_function(counts, labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(batch)
                correct += int((predict(counts.detach()) == labels).sum())
        scheduler.step()
        bar.set_postfix(loss=f"{total_loss / len(order):.3f}", acc=f"{correct / len(order):.3f}")


def load_training_data(config: TrainConfig, profile: TargetProfile, progress: bool = False) -> tuple[dict[str, Any], SpikeDataset, SpikeDataset]:
    """Return the encoding record and the train and test rasters of a resolved config."""
    encoding = config.encoding(profile)
    train_set, test_set = load_split(encoding, progress=progress)
    if len(train_set) == 0 or len(test_set) == 0:
        raise UserError(f"dataset {config.dataset!r} has an empty split ({len(train_set)} train, {len(test_set)} test samples); check --data and --limit")
    inputs = train_set.spikes.shape[2]
    if inputs > profile.resources.max_inputs:
        raise UserError(
            f"dataset {config.dataset!r} gives {inputs} input channels but target {profile.name!r} takes at most "
            f"{profile.resources.max_inputs}; pool more (--input-pooling) or use fewer --channels"
        )
    return encoding, train_set, test_set


def train(config: TrainConfig, progress: bool = True) -> tuple[Checkpoint, dict[str, Any]]:
    """Train on the configured dataset; return the checkpoint and a report."""
    profile = load_target(config.target)
    requested = config
    config = config.resolved(profile)
    config.validate()
    seed_everything(config.seed)
    encoding, train_set, test_set = load_training_data(config, profile, progress=progress)
    network_config = config.network_config(train_set.spikes.shape[2], max(train_set.num_classes, test_set.num_classes))
    network = SpikingNetwork(network_config, profile)
    learning_rate = config.learning_rate
    if config.float_epochs:
        # Float pretraining, then quantization-aware fine-tuning: steadier
        # than QAT from scratch where the state range is narrow.
        fit(network, train_set, config.float_epochs, config.batch_size, learning_rate, config.seed, mode=Mode.FLOAT, progress=progress, description="float")
        learning_rate = config.qat_learning_rate or learning_rate
    network.context.weight_qat = config.weight_qat
    fit(network, train_set, config.epochs, config.batch_size, learning_rate, config.seed, progress=progress)
    network.context.weight_qat = True

    report = {
        "train_accuracy_fake_quant": evaluate(network, train_set, Mode.FAKE_QUANT),
        "test_accuracy_float": evaluate(network, test_set, Mode.FLOAT),
        "test_accuracy_fake_quant": evaluate(network, test_set, Mode.FAKE_QUANT),
    }
    log.info("test accuracy: float %.4f, fake-quantized %.4f", report["test_accuracy_float"], report["test_accuracy_fake_quant"])
    checkpoint = Checkpoint(
        network=network_config,
        profile=profile,
        state_dict={key: value.detach().clone() for key, value in network.state_dict().items()},
        encoding=encoding,
        training={"config": config_record(requested), "resolved_config": config_record(config), "report": report},
    )
    return checkpoint, report


def config_record(config: TrainConfig) -> dict[str, Any]:
    """Return the config as JSON-like data (tuples as lists, as a checkpoint reads them back)."""
    record = dataclasses.asdict(config)
    record["test_speakers"] = list(record["test_speakers"])
    return record
