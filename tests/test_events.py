"""SHD and N-MNIST loaders on small files written here in the published formats."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from squat_deploy.data.events import load_nmnist_split, load_shd_split
from squat_deploy.errors import UserError

# ---------------------------------------------------------------- SHD files


def write_shd_file(path: Path, samples, labels, times_dtype=np.float64) -> Path:
    """Write an SHD file: ``samples`` is a list of (times in seconds, unit ids) pairs."""
    with h5py.File(path, "w") as handle:
        times = handle.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.dtype(times_dtype)))
        units = handle.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.dtype(np.uint16)))
        for index, (sample_times, sample_units) in enumerate(samples):
            times[index] = np.asarray(sample_times, dtype=times_dtype)
            units[index] = np.asarray(sample_units, dtype=np.uint16)
        handle.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        # The published files also carry an ``extra`` group, which the loader ignores.
        handle.create_dataset("extra/speaker", data=np.arange(len(samples), dtype=np.uint16))
    return path


# Train sample 0: two events in step 0 of channel 0 (0.03124 s is just below
# the first step boundary at 1/32 s), one on the boundary (step 1), one in the
# last unit, one just before the end, and two at or after duration = 1 s.
SHD_SAMPLE_EDGES = ([0.0, 0.03124, 0.03125, 0.5, 0.999, 1.0, 1.2], [0, 9, 10, 699, 5, 5, 5])
# Train sample 1: 20 events of unit 3 at 0.1 s (step 3), then one event in
# each of units 20 to 29 at 0.2 s (step 6), which pool into channel 2.
SHD_SAMPLE_BURST = ([0.1] * 20 + [0.2] * 10, [3] * 20 + list(range(20, 30)))
SHD_SAMPLE_EMPTY = ([], [])
SHD_TRAIN = ([SHD_SAMPLE_EDGES, SHD_SAMPLE_BURST, SHD_SAMPLE_EMPTY], [3, 7, 12])
SHD_TEST = ([([0.75], [350]), ([0.0], [0])], [19, 2])


@pytest.fixture
def shd_folder(tmp_path) -> Path:
    write_shd_file(tmp_path / "shd_train.h5", *SHD_TRAIN)
    write_shd_file(tmp_path / "shd_test.h5", *SHD_TEST)
    return tmp_path


def raster(num_steps: int, num_channels: int, counts: dict[tuple[int, int], int]) -> np.ndarray:
    """Build a (num_steps, num_channels) uint8 raster from {(step, channel): count}."""
    expected = np.zeros((num_steps, num_channels), dtype=np.uint8)
    for (step, channel), count in counts.items():
        expected[step, channel] = count
    return expected


# ---------------------------------------------------------------- SHD values


@pytest.mark.parametrize("times_dtype", [np.float32, np.float64])
def test_shd_golden_rasters(tmp_path, times_dtype):
    write_shd_file(tmp_path / "shd_train.h5", *SHD_TRAIN, times_dtype=times_dtype)
    write_shd_file(tmp_path / "shd_test.h5", *SHD_TEST, times_dtype=times_dtype)

    train, test = load_shd_split(tmp_path)

    assert train.name == "shd-train"
    assert test.name == "shd-test"
    assert train.spikes.dtype == np.uint8
    assert train.spikes.shape == (3, 32, 70)
    assert train.labels.dtype == np.int64
    assert train.labels.tolist() == [3, 7, 12]
    assert test.labels.tolist() == [19, 2]
    np.testing.assert_array_equal(train.spikes[0], raster(32, 70, {(0, 0): 2, (1, 1): 1, (16, 69): 1, (31, 0): 1}))
    # 20 events clip to max_events = 15, and the ten pooled units sum to 10.
    np.testing.assert_array_equal(train.spikes[1], raster(32, 70, {(3, 0): 15, (6, 2): 10}))
    np.testing.assert_array_equal(train.spikes[2], raster(32, 70, {}))
    np.testing.assert_array_equal(test.spikes[0], raster(32, 70, {(24, 35): 1}))
    np.testing.assert_array_equal(test.spikes[1], raster(32, 70, {(0, 0): 1}))


def test_shd_max_events_clips(shd_folder):
    unclipped, _ = load_shd_split(shd_folder, max_events=255)
    binary, _ = load_shd_split(shd_folder, max_events=1)

    assert unclipped.spikes[1, 3, 0] == 20
    assert unclipped.spikes[1, 6, 2] == 10
    assert binary.spikes[1, 3, 0] == 1
    assert binary.spikes[1, 6, 2] == 1
    assert binary.spikes.max() == 1


def test_shd_pooling_remainder(shd_folder):
    train, _ = load_shd_split(shd_folder, pooling=300)

    # ceil(700 / 300) = 3 channels, and the last one sums units 600 to 699.
    assert train.spikes.shape == (3, 32, 3)
    np.testing.assert_array_equal(train.spikes[0], raster(32, 3, {(0, 0): 2, (1, 0): 1, (16, 2): 1, (31, 0): 1}))


def test_shd_no_pooling(shd_folder):
    train, _ = load_shd_split(shd_folder, pooling=1)

    assert train.spikes.shape == (3, 32, 700)
    np.testing.assert_array_equal(
        train.spikes[0], raster(32, 700, {(0, 0): 1, (0, 9): 1, (1, 10): 1, (16, 699): 1, (31, 5): 1})
    )


def test_shd_longer_duration_keeps_late_events(shd_folder):
    train, _ = load_shd_split(shd_folder, duration=2.0)

    # Steps are 1/16 s long now: 1.0 s falls in step 16 and 1.2 s in step 19.
    expected = raster(32, 70, {(0, 0): 2, (0, 1): 1, (8, 69): 1, (15, 0): 1, (16, 0): 1, (19, 0): 1})
    np.testing.assert_array_equal(train.spikes[0], expected)


def test_shd_class_filter_then_limit(shd_folder):
    train, test = load_shd_split(shd_folder, classes=10)
    assert train.labels.tolist() == [3, 7]
    assert test.labels.tolist() == [2]
    np.testing.assert_array_equal(test.spikes[0], raster(32, 70, {(0, 0): 1}))

    train, test = load_shd_split(shd_folder, limit=1)
    assert train.labels.tolist() == [3]
    assert test.labels.tolist() == [19]

    train, test = load_shd_split(shd_folder, classes=5, limit=1)
    assert train.labels.tolist() == [3]
    assert test.labels.tolist() == [2]


@settings(max_examples=25, deadline=None)
@given(
    events=st.lists(st.tuples(st.floats(0.0, 1.5), st.integers(0, 699)), max_size=60),
    num_steps=st.integers(1, 40),
    duration=st.floats(0.05, 2.0),
    pooling=st.integers(1, 64),
)
def test_shd_counts_match_events_in_window(events, num_steps, duration, pooling):
    times = np.array([time for time, _ in events], dtype=np.float64)
    units = np.array([unit for _, unit in events], dtype=np.int64)
    with tempfile.TemporaryDirectory() as folder:
        write_shd_file(Path(folder) / "shd_train.h5", [(times, units)], [0])
        write_shd_file(Path(folder) / "shd_test.h5", [(times, units)], [0])
        train, _ = load_shd_split(folder, num_steps=num_steps, duration=duration, pooling=pooling, max_events=255)

    inside = times < duration
    assert int(train.spikes.sum()) == int(inside.sum())
    per_channel = np.bincount(units[inside] // pooling, minlength=train.spikes.shape[2])
    np.testing.assert_array_equal(train.spikes[0].sum(axis=0), per_channel)


# ---------------------------------------------------------------- SHD errors


def test_shd_missing_folder(tmp_path):
    with pytest.raises(UserError, match=r"SHD folder .*nowhere not found; pass the folder that contains shd_train.h5"):
        load_shd_split(tmp_path / "nowhere")


def test_shd_file_instead_of_folder(shd_folder):
    with pytest.raises(UserError, match=r"shd_train.h5 is a file; pass the folder that contains shd_train.h5 and shd_test.h5"):
        load_shd_split(shd_folder / "shd_train.h5")


def test_shd_missing_test_file(tmp_path):
    write_shd_file(tmp_path / "shd_train.h5", *SHD_TRAIN)
    with pytest.raises(UserError, match=r"shd_test.h5 not found"):
        load_shd_split(tmp_path)


def test_shd_gzipped_files_only(tmp_path):
    (tmp_path / "shd_train.h5.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "shd_test.h5.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(UserError, match=r"only the compressed shd_train.h5.gz; decompress it first with gunzip"):
        load_shd_split(tmp_path)


def test_shd_not_hdf5(tmp_path):
    (tmp_path / "shd_train.h5").write_text("times,units\n0.1,3\n")
    write_shd_file(tmp_path / "shd_test.h5", *SHD_TEST)
    with pytest.raises(UserError, match=r"shd_train.h5: not an HDF5 file"):
        load_shd_split(tmp_path)


def test_shd_missing_dataset(tmp_path):
    with h5py.File(tmp_path / "shd_train.h5", "w") as handle:
        handle.create_dataset("labels", data=np.zeros(2, dtype=np.uint16))
    write_shd_file(tmp_path / "shd_test.h5", *SHD_TEST)
    with pytest.raises(UserError, match=r"dataset 'spikes/times' is missing"):
        load_shd_split(tmp_path)


def test_shd_fixed_length_times(tmp_path):
    with h5py.File(tmp_path / "shd_train.h5", "w") as handle:
        handle.create_dataset("spikes/times", data=np.zeros((2, 3)))
        handle.create_dataset("spikes/units", data=np.zeros((2, 3), dtype=np.uint16))
        handle.create_dataset("labels", data=np.zeros(2, dtype=np.uint16))
    write_shd_file(tmp_path / "shd_test.h5", *SHD_TEST)
    with pytest.raises(UserError, match=r"'spikes/times' must be a 1-D variable-length array"):
        load_shd_split(tmp_path)


def test_shd_unit_out_of_range(tmp_path):
    write_shd_file(tmp_path / "shd_train.h5", [([0.1, 0.2], [5, 700])], [0])
    write_shd_file(tmp_path / "shd_test.h5", *SHD_TEST)
    with pytest.raises(UserError, match=r"sample 0 has unit id 700, outside 0 to 699"):
        load_shd_split(tmp_path)


def test_shd_times_and_units_differ(tmp_path):
    write_shd_file(tmp_path / "shd_train.h5", [([0.1, 0.2], [5])], [0])
    write_shd_file(tmp_path / "shd_test.h5", *SHD_TEST)
    with pytest.raises(UserError, match=r"sample 0 has 2 spike times but 1 unit ids"):
        load_shd_split(tmp_path)


def test_shd_label_count_differs(tmp_path):
    write_shd_file(tmp_path / "shd_train.h5", [([0.1], [5])], [0, 1])
    write_shd_file(tmp_path / "shd_test.h5", *SHD_TEST)
    with pytest.raises(UserError, match=r"have 1, 1 and 2 rows"):
        load_shd_split(tmp_path)


def test_shd_no_samples_left(shd_folder):
    with pytest.raises(UserError, match=r"shd_train.h5: no samples left after keeping labels below classes=2"):
        load_shd_split(shd_folder, classes=2)


def test_shd_without_h5py(shd_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(UserError, match=r"needs the h5py package.*pip install 'squat-deploy\[events\]'"):
        load_shd_split(shd_folder)


INVALID_OPTIONS = [
    ({"num_steps": 0}, r"num_steps must be an integer of 1 or more, got 0"),
    ({"num_steps": 2.5}, r"num_steps must be an integer of 1 or more, got 2.5"),
    ({"num_steps": True}, r"num_steps must be an integer of 1 or more, got True"),
    ({"duration": 0.0}, r"duration must be a finite number of seconds above 0, got 0.0"),
    ({"duration": -1.0}, r"duration must be a finite number of seconds above 0"),
    ({"duration": float("nan")}, r"duration must be a finite number of seconds above 0, got nan"),
    ({"duration": float("inf")}, r"duration must be a finite number of seconds above 0, got inf"),
    ({"pooling": 0}, r"pooling must be an integer of 1 or more, got 0"),
    ({"max_events": 0}, r"max_events must be an integer from 1 to 255 \(counts are stored as uint8\), got 0"),
    ({"max_events": 256}, r"max_events must be an integer from 1 to 255"),
    ({"classes": 0}, r"classes must be an integer of 1 or more, got 0"),
    ({"limit": 0}, r"limit must be None or an integer of 1 or more, got 0"),
]


@pytest.mark.parametrize("loader", [load_shd_split, load_nmnist_split])
@pytest.mark.parametrize("options, message", INVALID_OPTIONS)
def test_invalid_options(tmp_path, loader, options, message):
    with pytest.raises(UserError, match=message):
        loader(tmp_path, **options)


# ---------------------------------------------------------------- N-MNIST files


def encode_nmnist(events) -> bytes:
    """Encode (x, y, polarity, timestamp in microseconds) events as 5-byte big-endian records."""
    data = bytearray()
    for x, y, polarity, timestamp in events:
        data.append(x)
        data.append(y)
        data.append((polarity << 7) | (timestamp >> 16))
        data.append((timestamp >> 8) & 0xFF)
        data.append(timestamp & 0xFF)
    return bytes(data)


def write_nmnist_tree(root: Path, train: dict[int, list], test: dict[int, list]) -> Path:
    """Write Train and Test with class folders 0 to 9; ``train[label]`` lists (file name, events) pairs."""
    for folder_name, files in (("Train", train), ("Test", test)):
        for label in range(10):
            class_folder = root / folder_name / str(label)
            class_folder.mkdir(parents=True)
            for file_name, events in files.get(label, []):
                (class_folder / file_name).write_bytes(encode_nmnist(events))
    return root


# Steps are 300000 / 32 = 9375 us long. With pooling 2 there are 17 x 17
# blocks per polarity, so polarity 1 starts at channel 289.
NMNIST_EDGES = [
    (0, 0, 0, 0),  # step 0, channel 0
    (1, 1, 0, 9374),  # the same block, last microsecond of step 0
    (33, 33, 1, 9375),  # first microsecond of step 1, channel 289 + 16 * 17 + 16 = 577
    (2, 0, 1, 299999),  # step 31, channel 289 + 1 = 290
    (5, 5, 0, 300000),  # at duration: dropped
] + [(10, 4, 1, 50000)] * 20  # step 5, channel 289 + 2 * 17 + 5 = 328, clipped to 15
NMNIST_EDGES_RASTER = {(0, 0): 2, (1, 577): 1, (31, 290): 1, (5, 328): 15}


@pytest.fixture
def tonic_io():
    return pytest.importorskip("tonic.io")


# ---------------------------------------------------------------- N-MNIST values


def test_nmnist_golden_raster(tmp_path, tonic_io):
    write_nmnist_tree(tmp_path, {3: [("00000.bin", NMNIST_EDGES)]}, {9: [("00000.bin", [(33, 0, 0, 18750)])]})

    train, test = load_nmnist_split(tmp_path)

    assert train.name == "nmnist-train"
    assert test.name == "nmnist-test"
    assert train.spikes.dtype == np.uint8
    assert train.spikes.shape == (1, 32, 578)
    assert train.labels.dtype == np.int64
    assert train.labels.tolist() == [3]
    assert test.labels.tolist() == [9]
    np.testing.assert_array_equal(train.spikes[0], raster(32, 578, NMNIST_EDGES_RASTER))
    # x = 33 is block column 16, and 18750 us starts step 2.
    np.testing.assert_array_equal(test.spikes[0], raster(32, 578, {(2, 16): 1}))


def test_nmnist_no_pooling_and_no_clipping(tmp_path, tonic_io):
    write_nmnist_tree(tmp_path, {3: [("00000.bin", NMNIST_EDGES)]}, {0: [("00000.bin", [])]})

    train, test = load_nmnist_split(tmp_path, pooling=1, max_events=255)

    # 34 x 34 pixels per polarity: channel p * 1156 + y * 34 + x.
    expected = {(0, 0): 1, (0, 35): 1, (1, 1156 + 33 * 34 + 33): 1, (31, 1156 + 2): 1, (5, 1156 + 4 * 34 + 10): 20}
    np.testing.assert_array_equal(train.spikes[0], raster(32, 2312, expected))
    np.testing.assert_array_equal(test.spikes[0], raster(32, 2312, {}))


def test_nmnist_pooling_remainder(tmp_path, tonic_io):
    write_nmnist_tree(tmp_path, {0: [("0.bin", [(33, 33, 1, 0), (32, 30, 1, 0), (3, 0, 0, 0)])]}, {0: [("0.bin", [])]})

    train, _ = load_nmnist_split(tmp_path, pooling=3, max_events=255)

    # ceil(34 / 3) = 12 blocks per row, and the last block contains pixel 33 only.
    assert train.spikes.shape == (1, 32, 2 * 12 * 12)
    expected = {(0, 144 + 11 * 12 + 11): 1, (0, 144 + 10 * 12 + 10): 1, (0, 1): 1}
    np.testing.assert_array_equal(train.spikes[0], raster(32, 288, expected))


def test_nmnist_23_bit_timestamp(tmp_path, tonic_io):
    # 0x7FFFFF us with polarity 1 sets every bit of bytes 2 to 4.
    write_nmnist_tree(tmp_path, {0: [("0.bin", [(0, 0, 1, 0x7FFFFF)])]}, {0: [("0.bin", [])]})

    window_after, _ = load_nmnist_split(tmp_path, num_steps=2, duration=8.388608, pooling=34)
    window_at, _ = load_nmnist_split(tmp_path, num_steps=2, duration=8.388607, pooling=34)

    np.testing.assert_array_equal(window_after.spikes[0], raster(2, 2, {(1, 1): 1}))
    assert window_at.spikes.sum() == 0


def test_nmnist_overflow_marker(tmp_path, tonic_io):
    # A record with y = 240 is dropped, and 8192 us are added to later timestamps.
    events = [(1, 1, 0, 100), (0, 240, 0, 0), (2, 2, 0, 100)]
    write_nmnist_tree(tmp_path, {0: [("0.bin", events)]}, {0: [("0.bin", [])]})

    train, _ = load_nmnist_split(tmp_path, num_steps=100, duration=0.01, pooling=1)

    np.testing.assert_array_equal(train.spikes[0], raster(100, 2312, {(1, 35): 1, (82, 70): 1}))


def nmnist_marker(step: int) -> list:
    """Return one event in step ``step`` of 32 over 0.3 s, which identifies a sample by its raster."""
    return [(0, 0, 0, step * 9375)]


def test_nmnist_order_labels_and_limit(tmp_path, tonic_io):
    train_files = {
        0: [("10.bin", nmnist_marker(3)), ("2.bin", nmnist_marker(2)), ("00000.bin", nmnist_marker(0))],
        1: [("5.bin", nmnist_marker(1))],
        4: [("1.bin", nmnist_marker(4))],
    }
    write_nmnist_tree(tmp_path, train_files, {2: [("0.bin", nmnist_marker(5))]})

    train, test = load_nmnist_split(tmp_path)
    # Round-robin over classes, files in numeric name order within a class.
    assert train.labels.tolist() == [0, 1, 4, 0, 0]
    assert [int(np.argmax(sample[:, 0])) for sample in train.spikes] == [0, 1, 4, 2, 3]
    assert test.labels.tolist() == [2]

    train, _ = load_nmnist_split(tmp_path, limit=2)
    assert train.labels.tolist() == [0, 1]

    train, test = load_nmnist_split(tmp_path, classes=3, limit=3)
    assert train.labels.tolist() == [0, 1, 0]
    assert [int(np.argmax(sample[:, 0])) for sample in train.spikes] == [0, 1, 2]
    assert test.labels.tolist() == [2]


def test_nmnist_parent_folder(tmp_path, tonic_io):
    write_nmnist_tree(tmp_path / "N-MNIST", {3: [("00000.bin", NMNIST_EDGES)]}, {0: [("0.bin", [])]})

    train, _ = load_nmnist_split(tmp_path)

    np.testing.assert_array_equal(train.spikes[0], raster(32, 578, NMNIST_EDGES_RASTER))


# ---------------------------------------------------------------- cross-checks against tonic


def test_encoder_matches_tonic_reader(tmp_path, tonic_io):
    events = [(0, 0, 0, 0), (33, 17, 1, 0x7FFFFF), (12, 33, 0, 0x012345), (5, 6, 1, 299999)]
    file = tmp_path / "sample.bin"
    file.write_bytes(encode_nmnist(events))

    parsed = tonic_io.read_mnist_file(str(file), dtype=np.dtype([("x", int), ("y", int), ("t", int), ("p", int)]))

    assert parsed["x"].tolist() == [event[0] for event in events]
    assert parsed["y"].tolist() == [event[1] for event in events]
    assert parsed["p"].tolist() == [event[2] for event in events]
    assert parsed["t"].tolist() == [event[3] for event in events]


def random_sorted_events(seed: int, count: int, end_us: int) -> list:
    rng = np.random.default_rng(seed)
    times = np.sort(rng.integers(0, end_us, count))
    xs = rng.integers(0, 34, count)
    ys = rng.integers(0, 34, count)
    polarities = rng.integers(0, 2, count)
    return [(int(x), int(y), int(p), int(t)) for x, y, p, t in zip(xs, ys, polarities, times)]


@pytest.mark.parametrize("pooling", [1, 2])
def test_binning_matches_tonic_to_frame(tmp_path, tonic_io, pooling):
    tonic = pytest.importorskip("tonic")
    # 400 ms of events, so that ToFrame and the loader both drop the last 100 ms.
    events = random_sorted_events(seed=pooling, count=800, end_us=400000)
    write_nmnist_tree(tmp_path, {0: [("0.bin", events)]}, {0: [("0.bin", [])]})

    train, _ = load_nmnist_split(tmp_path, num_steps=32, duration=0.3, pooling=pooling, max_events=255)

    parsed = tonic_io.read_mnist_file(str(tmp_path / "Train" / "0" / "0.bin"), dtype=tonic.datasets.NMNIST.dtype)
    side = 34 // pooling
    # Downsample scales coordinates by 1 / pooling and truncates them to integers,
    # which equals x // pooling when 1 / pooling is exact in binary.
    downsampled = tonic.transforms.Downsample(spatial_factor=1 / pooling)(parsed)
    to_frame = tonic.transforms.ToFrame(sensor_size=(side, side, 2), time_window=9375, start_time=0, end_time=300000)
    frames = to_frame(downsampled)

    assert frames.shape == (32, 2, side, side)
    assert frames.max() <= 255
    np.testing.assert_array_equal(train.spikes[0], frames.reshape(32, -1))


# ---------------------------------------------------------------- N-MNIST errors


def test_nmnist_missing_folder(tmp_path):
    with pytest.raises(UserError, match=r"N-MNIST folder .*nowhere not found; pass the folder that contains Train and Test"):
        load_nmnist_split(tmp_path / "nowhere")


def test_nmnist_file_instead_of_folder(tmp_path):
    file = tmp_path / "0.bin"
    file.write_bytes(encode_nmnist([(1, 1, 0, 5)]))
    with pytest.raises(UserError, match=r"0.bin is a file; pass the N-MNIST folder that contains Train and Test"):
        load_nmnist_split(file)


def test_nmnist_missing_test_folder(tmp_path):
    (tmp_path / "Train" / "0").mkdir(parents=True)
    with pytest.raises(UserError, match=r"Train and Test folders not found"):
        load_nmnist_split(tmp_path)


def test_nmnist_zips_not_extracted(tmp_path):
    (tmp_path / "Train.zip").write_bytes(b"PK")
    (tmp_path / "Test.zip").write_bytes(b"PK")
    with pytest.raises(UserError, match=r"contains Train.zip and Test.zip but no extracted folders; unzip them"):
        load_nmnist_split(tmp_path)


def test_nmnist_two_candidate_folders(tmp_path):
    write_nmnist_tree(tmp_path / "first", {}, {})
    write_nmnist_tree(tmp_path / "second", {}, {})
    with pytest.raises(UserError, match=r"contains several N-MNIST folders"):
        load_nmnist_split(tmp_path)


def test_nmnist_missing_class_folder(tmp_path, tonic_io):
    write_nmnist_tree(tmp_path, {0: [("0.bin", [])]}, {0: [("0.bin", [])]})
    (tmp_path / "Test" / "9").rmdir()

    with pytest.raises(UserError, match=r"class folder .*Test.9 not found"):
        load_nmnist_split(tmp_path)
    # Classes at or above ``classes`` are not looked for.
    _, test = load_nmnist_split(tmp_path, classes=9)
    assert test.labels.tolist() == [0]


def test_nmnist_truncated_file(tmp_path, tonic_io):
    write_nmnist_tree(tmp_path, {0: [("0.bin", [])]}, {0: [("0.bin", [])]})
    (tmp_path / "Train" / "0" / "0.bin").write_bytes(encode_nmnist([(1, 1, 0, 5)]) + b"\x01\x02")

    with pytest.raises(UserError, match=r"0.bin: size 7 bytes is not a multiple of 5"):
        load_nmnist_split(tmp_path)


def test_nmnist_coordinate_outside_sensor(tmp_path, tonic_io):
    write_nmnist_tree(tmp_path, {0: [("0.bin", [(1, 1, 0, 5), (34, 2, 0, 6)])]}, {0: [("0.bin", [])]})

    with pytest.raises(UserError, match=r"event at x=34, y=2 is outside the 34x34 sensor"):
        load_nmnist_split(tmp_path)


def test_nmnist_no_samples(tmp_path, tonic_io):
    write_nmnist_tree(tmp_path, {5: [("0.bin", [])]}, {0: [("0.bin", [])]})

    with pytest.raises(UserError, match=r"Train: no .bin files in class folders 0 to 4"):
        load_nmnist_split(tmp_path, classes=5)


def test_nmnist_duration_below_one_microsecond(tmp_path):
    with pytest.raises(UserError, match=r"duration must be at least 1 microsecond for N-MNIST"):
        load_nmnist_split(tmp_path, duration=1e-7)


def test_nmnist_without_tonic(tmp_path, monkeypatch):
    write_nmnist_tree(tmp_path, {0: [("0.bin", [])]}, {0: [("0.bin", [])]})
    monkeypatch.setitem(sys.modules, "tonic.io", None)

    with pytest.raises(UserError, match=r"needs the tonic package.*pip install 'squat-deploy\[events\]'"):
        load_nmnist_split(tmp_path)
