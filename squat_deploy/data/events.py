"""Spiking Heidelberg Digits (SHD) and N-MNIST, read from local files and binned to spike rasters.

Nothing is downloaded: the caller passes the folder that contains the
published files. Both loaders need the optional packages of ``squat-deploy[events]``
(h5py for SHD, tonic for N-MNIST) and import them only when called.

SHD (Cramer et al. 2020) is a pair of HDF5 files, ``shd_train.h5`` and
``shd_test.h5``, published gzipped as ``.h5.gz``. Each file contains:

- ``spikes/times``: one variable-length float array per sample, spike times in seconds;
- ``spikes/units``: one variable-length uint16 array per sample, the unit id
  (0 to 699) of each spike, in the same order as ``times``;
- ``labels``: uint16, one label per sample, 20 classes (the digits 0 to 9
  spoken in English and in German).

The ``extra`` group (speaker ids, class names, metadata) is not read.

N-MNIST (Orchard et al. 2015) is a folder with ``Train`` and ``Test``
subfolders, each holding class folders ``0`` to ``9`` of ``.bin`` files. A
``.bin`` file is a sequence of 5-byte big-endian records, one event each.
Byte 0 is x (0 to 33) and byte 1 is y (0 to 33). Bit 7 of byte 2 is the
polarity (0 for OFF, 1 for ON), and the other 23 bits of bytes 2 to 4 are
the timestamp in microseconds. The sensor is 34 x 34 pixels with 2 polarities.
Files are parsed with ``tonic.io.read_mnist_file``, which also treats a
record with y = 240 as a timestamp-overflow marker: it drops the record and
adds 8192 us (2**13) to the timestamps of all later events.

Binning, the same for both data sets: ``num_steps`` equal steps cover the
window ``[0, duration)`` seconds. An event at time ``t`` falls in step
``floor(t * num_steps / duration)``, so an event exactly on a step boundary
goes to the later step. Events at or after ``duration`` (and SHD events with
a negative or NaN time) are dropped. SHD computes the step in float64 from
the stored times. N-MNIST computes it in integers from the microsecond
timestamps, with ``duration`` rounded to whole microseconds. The count of
each (step, channel) pair is clipped to ``max_events``, the largest number
of input events per channel and step that the hardware takes, and stored as
uint8.

Channels:

- SHD: channel ``unit // pooling``, so each channel sums ``pooling`` adjacent
  units and there are ``ceil(700 / pooling)`` channels (the last one sums
  fewer units when ``pooling`` does not divide 700).
- N-MNIST: ``pooling`` x ``pooling`` pixel blocks, summed separately per
  polarity. With ``side = ceil(34 / pooling)`` blocks per row and column,
  channel ``p * side**2 + (y // pooling) * side + (x // pooling)``:
  polarity-major, then row, then column. This is the (polarity, y, x) order
  of ``tonic.transforms.ToFrame`` frames, flattened.

Sample order and filters: ``classes`` keeps only samples whose label is below
it, and then ``limit`` keeps the first ``limit`` samples of each split. SHD
samples are in file order. N-MNIST samples are taken round-robin over the
class folders (the first file of class 0, the first of class 1, and so on),
with files in name order, so that a ``limit`` prefix is balanced across
classes.
"""

from __future__ import annotations

import importlib
import math
import numbers
import os
from pathlib import Path

import numpy as np

from squat_deploy.data.digits import SpikeDataset
from squat_deploy.errors import UserError

SHD_UNITS = 700
SHD_FILES = {"train": "shd_train.h5", "test": "shd_test.h5"}
SHD_DATASETS = ("spikes/times", "spikes/units", "labels")

NMNIST_SIDE = 34
NMNIST_POLARITIES = 2
NMNIST_CLASSES = 10
NMNIST_FOLDERS = {"train": "Train", "test": "Test"}
NMNIST_RECORD_BYTES = 5
NMNIST_EVENT_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])

# Counts are stored as uint8.
MAX_EVENTS_LIMIT = 255

INSTALL_HINT = "install it with: pip install 'squat-deploy[events]'"


def load_shd_split(
    path: str | os.PathLike,
    num_steps: int = 32,
    duration: float = 1.0,
    pooling: int = 10,
    max_events: int = 15,
    classes: int = 20,
    limit: int | None = None,
) -> tuple[SpikeDataset, SpikeDataset]:
    """Load ``(train, test)`` rasters of SHD from the folder that contains ``shd_train.h5`` and ``shd_test.h5``.

    Rasters have shape (samples, num_steps, ceil(700 / pooling)). The module
    docstring gives the file format and the binning rule.
    """
    _check_options(num_steps, duration, pooling, max_events, classes, limit)
    folder = _find_shd_folder(Path(path).expanduser())
    h5py = _import_optional("h5py", "SHD")

    splits = []
    for split, file_name in SHD_FILES.items():
        spikes, labels = _read_shd_file(h5py, folder / file_name, num_steps, duration, pooling, max_events, classes, limit)
        splits.append(SpikeDataset(spikes, labels, f"shd-{split}"))
    return splits[0], splits[1]


def load_nmnist_split(
    path: str | os.PathLike,
    num_steps: int = 32,
    duration: float = 0.3,
    pooling: int = 2,
    max_events: int = 15,
    classes: int = 10,
    limit: int | None = None,
) -> tuple[SpikeDataset, SpikeDataset]:
    """Load ``(train, test)`` rasters of N-MNIST from the folder that contains ``Train`` and ``Test``.

    ``path`` may also be a folder with exactly one subfolder that contains
    ``Train`` and ``Test``. Rasters have shape (samples, num_steps,
    2 * ceil(34 / pooling)**2). The module docstring gives the file format,
    the binning rule and the channel order.
    """
    _check_options(num_steps, duration, pooling, max_events, classes, limit)
    duration_us = round(duration * 1e6)
    if duration_us < 1:
        raise UserError(f"duration must be at least 1 microsecond for N-MNIST, got {duration!r} s")
    root = _find_nmnist_root(Path(path).expanduser())
    tonic_io = _import_optional("tonic.io", "N-MNIST")

    side = math.ceil(NMNIST_SIDE / pooling)
    num_channels = NMNIST_POLARITIES * side * side
    splits = []
    for split, folder_name in NMNIST_FOLDERS.items():
        files, labels = _list_nmnist_files(root / folder_name, classes, limit)
        spikes = np.zeros((len(files), num_steps, num_channels), dtype=np.uint8)
        for index, file in enumerate(files):
            events = _read_nmnist_file(tonic_io, file)
            inside = events["t"] < duration_us
            steps = events["t"][inside] * num_steps // duration_us
            x = events["x"][inside] // pooling
            y = events["y"][inside] // pooling
            channels = events["p"][inside] * side * side + y * side + x
            spikes[index] = _count_events(steps, channels, num_steps, num_channels, max_events)
        splits.append(SpikeDataset(spikes, labels, f"nmnist-{split}"))
    return splits[0], splits[1]


def _check_options(num_steps, duration, pooling, max_events, classes, limit) -> None:
    for name, value in (("num_steps", num_steps), ("pooling", pooling), ("classes", classes)):
        if not _is_integer(value) or value < 1:
            raise UserError(f"{name} must be an integer of 1 or more, got {value!r}")
    if not _is_integer(max_events) or not 1 <= max_events <= MAX_EVENTS_LIMIT:
        raise UserError(f"max_events must be an integer from 1 to {MAX_EVENTS_LIMIT} (counts are stored as uint8), got {max_events!r}")
    if limit is not None and (not _is_integer(limit) or limit < 1):
        raise UserError(f"limit must be None or an integer of 1 or more, got {limit!r}")
    if isinstance(duration, bool) or not isinstance(duration, numbers.Real) or not math.isfinite(duration) or duration <= 0:
        raise UserError(f"duration must be a finite number of seconds above 0, got {duration!r}")


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _import_optional(module: str, data_set: str):
    """Import ``module``, raising ``UserError`` with the install command when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise UserError(f"reading {data_set} needs the {package} package, which is not installed; {INSTALL_HINT}") from None


def _count_events(steps: np.ndarray, channels: np.ndarray, num_steps: int, num_channels: int, max_events: int) -> np.ndarray:
    """Count events per (step, channel) into a (num_steps, num_channels) uint8 raster clipped to ``max_events``."""
    flat = np.bincount(steps * num_channels + channels, minlength=num_steps * num_channels)
    return np.minimum(flat, max_events).astype(np.uint8).reshape(num_steps, num_channels)


def _find_shd_folder(folder: Path) -> Path:
    names = " and ".join(SHD_FILES.values())
    if folder.is_file():
        raise UserError(f"{folder} is a file; pass the folder that contains {names}")
    if not folder.is_dir():
        raise UserError(f"SHD folder {folder} not found; pass the folder that contains {names}")
    for file_name in SHD_FILES.values():
        file = folder / file_name
        if file.is_file():
            continue
        for suffix in (".gz", ".zip"):
            if (folder / (file_name + suffix)).is_file():
                tool = "gunzip" if suffix == ".gz" else "unzip"
                raise UserError(f"{file} not found, only the compressed {file.name + suffix}; decompress it first with {tool}")
        raise UserError(f"{file} not found; pass the folder that contains {names}")
    return folder


def _read_shd_file(h5py, file: Path, num_steps, duration, pooling, max_events, classes, limit) -> tuple[np.ndarray, np.ndarray]:
    """Read one SHD split and bin it, returning the (samples, time, channels) raster and the labels."""
    if not h5py.is_hdf5(file):
        raise UserError(f"{file}: not an HDF5 file; pass the decompressed SHD file as published")
    try:
        with h5py.File(file, "r") as handle:
            times_dataset, units_dataset, labels = _open_shd_datasets(h5py, handle, file)
            selected = np.flatnonzero((labels >= 0) & (labels < classes))
            if limit is not None:
                selected = selected[:limit]
            if selected.size == 0:
                raise UserError(f"{file}: no samples left after keeping labels below classes={classes}; raise classes")
            # Read one contiguous block up to the last selected sample: h5py
            # reads variable-length rows one by one under fancy indexing.
            stop = int(selected[-1]) + 1
            times = times_dataset[:stop]
            units = units_dataset[:stop]
    except OSError as error:
        raise UserError(f"{file}: cannot read the HDF5 file: {error}") from None

    num_channels = math.ceil(SHD_UNITS / pooling)
    spikes = np.zeros((selected.size, num_steps, num_channels), dtype=np.uint8)
    for row, sample in enumerate(selected):
        sample_times = np.asarray(times[sample], dtype=np.float64)
        sample_units = np.asarray(units[sample], dtype=np.int64)
        if sample_times.shape != sample_units.shape:
            raise UserError(
                f"{file}: sample {sample} has {sample_times.size} spike times but {sample_units.size} unit ids; the file is damaged, download it again"
            )
        outside = (sample_units < 0) | (sample_units >= SHD_UNITS)
        if outside.any():
            raise UserError(
                f"{file}: sample {sample} has unit id {sample_units[outside][0]}, outside 0 to {SHD_UNITS - 1}; this is not an SHD file as published"
            )
        inside = (sample_times >= 0) & (sample_times < duration)
        steps = np.floor(sample_times[inside] * num_steps / duration).astype(np.int64)
        # A time just below ``duration`` can round up to step num_steps in float64.
        steps = np.minimum(steps, num_steps - 1)
        channels = sample_units[inside] // pooling
        spikes[row] = _count_events(steps, channels, num_steps, num_channels, max_events)
    return spikes, labels[selected]


def _open_shd_datasets(h5py, handle, file: Path):
    """Return the times and units datasets and the labels of an open SHD file, checking their layout."""
    for key in SHD_DATASETS:
        if not isinstance(handle.get(key), h5py.Dataset):
            raise UserError(f"{file}: dataset {key!r} is missing; an SHD file contains {', '.join(SHD_DATASETS)}")
    times_dataset = handle["spikes/times"]
    units_dataset = handle["spikes/units"]
    for key, dataset in (("spikes/times", times_dataset), ("spikes/units", units_dataset)):
        if dataset.ndim != 1 or h5py.check_vlen_dtype(dataset.dtype) is None:
            raise UserError(f"{file}: dataset {key!r} must be a 1-D variable-length array, one row per sample, as in the published SHD files")
    labels = handle["labels"][()]
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise UserError(f"{file}: dataset 'labels' must be a 1-D integer array, got {labels.dtype} of shape {labels.shape}")
    if not len(times_dataset) == len(units_dataset) == len(labels):
        raise UserError(
            f"{file}: spikes/times, spikes/units and labels have {len(times_dataset)}, {len(units_dataset)} and {len(labels)} rows; "
            "they must have one row per sample, download the file again"
        )
    return times_dataset, units_dataset, labels.astype(np.int64)


def _find_nmnist_root(folder: Path) -> Path:
    if folder.is_file():
        raise UserError(f"{folder} is a file; pass the N-MNIST folder that contains Train and Test")
    if not folder.is_dir():
        raise UserError(f"N-MNIST folder {folder} not found; pass the folder that contains Train and Test")
    if _has_nmnist_splits(folder):
        return folder
    candidates = [child for child in sorted(folder.iterdir()) if child.is_dir() and _has_nmnist_splits(child)]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        found = ", ".join(str(child) for child in candidates)
        raise UserError(f"{folder} contains several N-MNIST folders ({found}); pass one of them")
    zips = [name for name in NMNIST_FOLDERS.values() if (folder / f"{name}.zip").is_file()]
    if zips:
        raise UserError(f"{folder} contains {' and '.join(z + '.zip' for z in zips)} but no extracted folders; unzip them there first")
    raise UserError(f"{folder}: Train and Test folders not found; pass the N-MNIST folder that contains Train and Test, each with class folders 0 to 9")


def _has_nmnist_splits(folder: Path) -> bool:
    return all((folder / name).is_dir() for name in NMNIST_FOLDERS.values())


def _list_nmnist_files(split_folder: Path, classes: int, limit: int | None) -> tuple[list[Path], np.ndarray]:
    """List the ``.bin`` files of one split, round-robin over the classes below ``classes``, with their labels."""
    per_class = []
    for label in range(min(classes, NMNIST_CLASSES)):
        class_folder = split_folder / str(label)
        if not class_folder.is_dir():
            raise UserError(f"N-MNIST class folder {class_folder} not found; the data set has class folders 0 to 9 in Train and Test")
        files = [file for file in class_folder.iterdir() if file.suffix == ".bin" and file.is_file()]
        per_class.append(sorted(files, key=_file_order))

    ordered, labels = [], []
    for rank in range(max(len(files) for files in per_class)):
        for label, files in enumerate(per_class):
            if rank < len(files):
                ordered.append(files[rank])
                labels.append(label)
    if limit is not None:
        ordered, labels = ordered[:limit], labels[:limit]
    if not ordered:
        raise UserError(f"{split_folder}: no .bin files in class folders 0 to {len(per_class) - 1}; extract the N-MNIST archives there")
    return ordered, np.asarray(labels, dtype=np.int64)


def _file_order(file: Path) -> tuple:
    """Sort key: numeric names (``00012.bin``) by number, then any others by name."""
    stem = file.stem
    return (0, int(stem), file.name) if stem.isdigit() else (1, 0, file.name)


def _read_nmnist_file(tonic_io, file: Path) -> np.ndarray:
    """Parse one N-MNIST ``.bin`` file into events with fields x, y, t (microseconds) and p."""
    size = file.stat().st_size
    if size % NMNIST_RECORD_BYTES:
        raise UserError(
            f"{file}: size {size} bytes is not a multiple of {NMNIST_RECORD_BYTES}, the bytes per event; the file is truncated, extract it again"
        )
    # NOTE: read_mnist_file adds 2**13 us per overflow marker (y = 240), as the
    # original reader of the data set does, although timestamps have 23 bits.
    # N-MNIST samples last about 0.3 s, far below 2**23 us, so they need no marker.
    events = tonic_io.read_mnist_file(str(file), dtype=NMNIST_EVENT_DTYPE)
    outside = (events["x"] >= NMNIST_SIDE) | (events["y"] >= NMNIST_SIDE)
    if outside.any():
        first = events[outside][0]
        raise UserError(
            f"{file}: event at x={first['x']}, y={first['y']} is outside the {NMNIST_SIDE}x{NMNIST_SIDE} sensor; this is not an N-MNIST file"
        )
    return events
