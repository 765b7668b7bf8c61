"""Datasets and spike encoders.

Every dataset becomes a ``SpikeDataset``: event counts of shape (samples,
time, inputs). A model records how its inputs were made as an *encoding*
dict (the dataset name and every setting of its encoder). ``load_split``
rebuilds the train and test splits from that dict, so ``squat verify`` and
``squat sweep`` see the same rasters as training did.

- ``digits``: scikit-learn's bundled 8x8 digits, rate-encoded; no files.
- ``fsdd``: spoken digits from a folder of WAV files, through a cochlea-like
  front end (``squat_deploy.data.fsdd``).
- ``shd`` and ``nmnist``: Spiking Heidelberg Digits and N-MNIST from their
  published files (``squat_deploy.data.events``, needs ``squat-deploy[events]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from squat_deploy.data.digits import SpikeDataset, encode_rate, load_digits_split
from squat_deploy.errors import UserError

DATASETS = ("digits", "fsdd", "shd", "nmnist")

__all__ = ["DATASETS", "SpikeDataset", "encode_rate", "load_digits_split", "load_split"]


def _keep_classes(dataset: SpikeDataset, classes: int | None) -> SpikeDataset:
    if classes is None or dataset.num_classes <= classes:
        return dataset
    keep = dataset.labels < classes
    return SpikeDataset(dataset.spikes[keep], dataset.labels[keep], dataset.name)


def _data_path(encoding: dict[str, Any]) -> Path:
    path = encoding.get("path")
    if not path:
        raise UserError(f"dataset {encoding['dataset']!r} reads local files; pass their folder with --data PATH")
    return Path(path).expanduser()


def load_split(encoding: dict[str, Any], limit: int | None = None, progress: bool = False) -> tuple[SpikeDataset, SpikeDataset]:
    """Return the ``(train, test)`` rasters that ``encoding`` describes.

    ``limit`` caps the samples per split. Where the encoding records a lower
    limit (the model was trained on fewer samples), that one applies.
    """
    name = encoding.get("dataset", "digits")
    recorded = encoding.get("limit")
    if limit is None or (recorded is not None and recorded < limit):
        limit = recorded

    if name == "digits":
        return load_digits_split(
            encoding.get("num_steps") or 16,
            seed=encoding.get("split_seed", 0),
            limit=limit,
            pooling=encoding.get("pooling", 1),
            classes=encoding.get("classes", 10),
        )

    if name == "fsdd":
        from squat_deploy.data.fsdd import FrontEnd, load_fsdd_split

        train, test = load_fsdd_split(
            _data_path(encoding),
            FrontEnd.from_dict(encoding["front_end"]),
            split=encoding.get("split", "index"),
            test_speakers=tuple(encoding.get("test_speakers", ("theo",))),
            limit=limit,
            progress=progress,
        )
        return _keep_classes(train, encoding.get("classes")), _keep_classes(test, encoding.get("classes"))

    if name in ("shd", "nmnist"):
        from squat_deploy.data import events

        loader = events.load_shd_split if name == "shd" else events.load_nmnist_split
        return loader(
            _data_path(encoding),
            num_steps=encoding["num_steps"],
            duration=encoding["duration"],
            pooling=encoding["pooling"],
            max_events=encoding["max_events"],
            classes=encoding["classes"],
            limit=limit,
        )

    raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
