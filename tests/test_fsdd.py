"""Tests of the spoken-digit loader on WAV files written here, and one test on the real FSDD folder."""

from __future__ import annotations

import logging
import os
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from squat_deploy.data import fsdd
from squat_deploy.data.fsdd import (
    FrontEnd,
    delta_encode,
    encode_waveform,
    load_fsdd_split,
    read_wav,
    scan_folder,
    split_recordings,
    threshold_encode,
)
from squat_deploy.errors import UserError

RATE = 8000
FSDD_ROOT = Path(os.environ.get("SQUAT_FSDD", Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd"))


def tone(hz: float, seconds: float, rate: int = RATE, amplitude: float = 0.5) -> np.ndarray:
    """Return a sine of ``hz`` that starts at phase 0."""
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(round(seconds * rate))) / rate)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE, width: int = 2) -> Path:
    """Write float samples in [-1, 1), shape (n,) or (n, channels), as integer PCM."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim == 1:
        samples = samples[:, None]
    if width == 1:
        data = np.clip(np.round(samples * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    elif width == 2:
        data = np.clip(np.round(samples * 2**15), -(2**15), 2**15 - 1).astype("<i2").tobytes()
    else:
        data = np.clip(np.round(samples * 2**31), -(2**31), 2**31 - 1).astype("<i4").tobytes()
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(samples.shape[1])
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(data)
    return path


def band_centres(front_end: FrontEnd) -> np.ndarray:
    """Return the centre frequency of each band of ``front_end``."""
    if front_end.filterbank == "gammatone":
        return fsdd.gammatone_centres(front_end.channels, front_end.low_hz, front_end.high_hz)
    edges = np.linspace(fsdd.hz_to_mel(front_end.low_hz), fsdd.hz_to_mel(front_end.high_hz), front_end.channels + 2)
    return fsdd.mel_to_hz(edges[1:-1])


DIGIT_TONES = {0: 300.0, 1: 1000.0, 2: 2500.0}
SPEAKERS = ("alice", "bob", "carol")


def make_folder(root: Path, indices=range(7)) -> Path:
    """Write one short tone per digit, speaker and index. The frequency depends on digit and speaker, the length on the index."""
    root.mkdir(parents=True, exist_ok=True)
    for digit, hz in DIGIT_TONES.items():
        for speaker_number, speaker in enumerate(SPEAKERS):
            for index in indices:
                samples = tone(hz * (1 + 0.02 * speaker_number), 0.2 + 0.02 * index)
                write_wav(root / f"{digit}_{speaker}_{index}.wav", samples)
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A synthetic folder of 3 digits x 3 speakers x indices 0-6, shared by the read-only tests."""
    return make_folder(tmp_path_factory.mktemp("fsdd") / "wavs")


# ---------------------------------------------------------------------------
# Filterbanks


@pytest.mark.parametrize("filterbank", ["mel", "gammatone"])
@pytest.mark.parametrize("band", [1, 6, 13])
def test_tone_excites_its_band(tmp_path, filterbank, band):
    front_end = FrontEnd(filterbank=filterbank)
    hz = band_centres(front_end)[band]
    path = write_wav(tmp_path / "tone.wav", tone(hz, 0.5))

    powers = fsdd.band_powers(read_wav(path, RATE), front_end)
    assert powers.shape == (25, front_end.channels)
    assert int(np.argmax(powers.mean(axis=0))) == band

    raster = encode_waveform(read_wav(path, RATE), FrontEnd(filterbank=filterbank, encoder="threshold"))
    assert int(np.argmax(raster.sum(axis=0))) == band


@pytest.mark.parametrize("filterbank", ["mel", "gammatone"])
@pytest.mark.parametrize("encoder", ["delta", "threshold"])
def test_silence_gives_no_events(tmp_path, filterbank, encoder):
    front_end = FrontEnd(filterbank=filterbank, encoder=encoder)
    path = write_wav(tmp_path / "silence.wav", np.zeros(RATE))

    raster = encode_waveform(read_wav(path, RATE), front_end)

    assert raster.shape == (front_end.num_steps, front_end.num_inputs)
    assert raster.dtype == np.uint8
    assert raster.sum() == 0


def test_loudness_does_not_change_raster():
    front_end = FrontEnd()
    samples = tone(700, 0.3) + tone(2000, 0.3, amplitude=0.1)

    loud = encode_waveform(samples, front_end)
    quiet = encode_waveform(samples / 100, front_end)

    assert loud.sum() > 0
    np.testing.assert_array_equal(loud, quiet)


# ---------------------------------------------------------------------------
# Encoders


def test_delta_encode_hand_computed():
    # Band 0 rises in 12 and 18 dB steps and falls back, band 1 jumps by 40 dB
    # at t = 1: 6 UP events clipped to 4, and the remaining 2 come at t = 2.
    levels = np.array(
        [
            [-60.0, -55.0],
            [-48.0, -20.0],
            [-50.0, -20.0],
            [-30.0, -20.0],
            [-59.0, -41.0],
            [-60.0, -41.0],
        ]
    )
    expected = np.array(
        [
            # UP 0, UP 1, DOWN 0, DOWN 1
            [0, 0, 0, 0],
            [2, 4, 0, 0],
            [0, 2, 0, 0],
            [3, 0, 0, 0],
            [0, 0, 4, 2],
            [0, 0, 1, 0],
        ],
        dtype=np.uint8,
    )

    counts = delta_encode(levels, delta_db=6.0, floor_db=60.0, max_events=4)

    assert counts.dtype == np.uint8
    np.testing.assert_array_equal(counts, expected)


def test_delta_encode_clips_and_catches_up():
    levels = np.full((6, 1), -30.0)

    counts = delta_encode(levels, delta_db=6.0, floor_db=60.0, max_events=2)

    np.testing.assert_array_equal(counts[:, 0], [2, 2, 1, 0, 0, 0])
    assert counts[:, 1].sum() == 0


def test_threshold_encode_hand_computed():
    # Normalised levels 1, 0.5, 0.5, 0, 0.25, 0.75 reach the threshold at t = 0, 2, 5.
    levels = np.array([[0.0], [-30.0], [-30.0], [-60.0], [-45.0], [-15.0]])

    counts = threshold_encode(levels, floor_db=60.0, max_events=4)

    assert counts.dtype == np.uint8
    np.testing.assert_array_equal(counts[:, 0], [1, 0, 1, 0, 0, 1])


def test_encode_waveform_clips_to_max_events():
    samples = np.concatenate([np.zeros(800), tone(1000, 0.5)])

    for max_events in (1, 3):
        front_end = FrontEnd(delta_db=1.0, max_events=max_events)
        raster = encode_waveform(samples, front_end)
        assert raster.max() == max_events


@given(
    levels=arrays(np.float64, st.tuples(st.integers(1, 30), st.integers(1, 4)), elements=st.floats(-60.0, 0.0)),
    delta_db=st.sampled_from([0.5, 1.0, 3.0, 6.0, 10.0]),
)
@settings(max_examples=200, deadline=None)
def test_delta_encode_tracks_level(levels, delta_db):
    # max_events is large enough that no step is clipped.
    counts = delta_encode(levels, delta_db=delta_db, floor_db=60.0, max_events=255).astype(np.int64)
    bands = levels.shape[1]
    up, down = counts[:, :bands], counts[:, bands:]

    reference = -60.0 + delta_db * np.cumsum(up - down, axis=0)

    assert np.all((up == 0) | (down == 0))
    assert np.all(np.abs(levels - reference) < delta_db + 1e-9)


# ---------------------------------------------------------------------------
# Trimming, cropping and padding


def test_trim_start_uses_trim_db():
    powers = np.array([[0.0, 0.0], [1e-5, 0.0], [1e-2, 0.0], [0.5, 0.5], [0.25, 0.25]])

    assert fsdd.trim_start(powers, 30.0) == 2
    assert fsdd.trim_start(powers, 60.0) == 1
    assert fsdd.trim_start(np.zeros((3, 2)), 30.0) == 0


@pytest.mark.parametrize("encoder", ["delta", "threshold"])
def test_leading_silence_is_trimmed(encoder):
    front_end = FrontEnd(encoder=encoder)
    word = tone(500, 0.3) + tone(1500, 0.3, amplitude=0.2)

    # Both silences are whole numbers of 160-sample hops, so both clips have
    # the same frames from the last silent frame onwards. Untrimmed, the
    # 4000 silent samples would fill the first 24 steps.
    short = encode_waveform(np.concatenate([np.zeros(800), word]), front_end)
    long = encode_waveform(np.concatenate([np.zeros(4000), word]), front_end)

    assert long[:2].sum() > 0
    np.testing.assert_array_equal(short, long)


def test_short_clip_is_padded_with_silence():
    front_end = FrontEnd(encoder="threshold")

    # 1600 samples are 10 frames of 160.
    raster = encode_waveform(tone(1000, 0.2), front_end)

    assert raster.shape == (40, 16)
    assert raster[:10].sum() > 0
    assert raster[10:].sum() == 0


@pytest.mark.parametrize("num_steps", [7, 40])
def test_long_clip_is_cropped(num_steps):
    front_end = FrontEnd(encoder="threshold", num_steps=num_steps)
    band = 8
    hz = band_centres(front_end)[band]

    raster = encode_waveform(tone(hz, 2.0), front_end)

    # The tone's band is within a fraction of a dB of 0 dB, so its
    # accumulator reaches 1 on every step from step 1 onwards.
    assert raster.shape == (num_steps, 16)
    assert np.all(raster[1:, band] == 1)


# ---------------------------------------------------------------------------
# Reading WAV files


def test_resampling_16khz_file(tmp_path):
    path = write_wav(tmp_path / "fast.wav", tone(1000, 0.5, rate=16000), rate=16000)

    samples = read_wav(path, RATE)

    assert len(samples) == 4000
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) * RATE / len(samples) == pytest.approx(1000, abs=2)
    reference = encode_waveform(tone(1000, 0.5), FrontEnd())
    resampled = encode_waveform(samples, FrontEnd())
    assert np.argmax(resampled.sum(axis=0)) == np.argmax(reference.sum(axis=0))


@pytest.mark.parametrize("width", [1, 2, 4])
def test_reads_sample_widths(tmp_path, width):
    samples = tone(440, 0.1)
    path = write_wav(tmp_path / "tone.wav", samples, width=width)

    assert np.max(np.abs(read_wav(path, RATE) - samples)) <= 1 / 2 ** (8 * width - 1)


def test_stereo_is_averaged(tmp_path):
    left = tone(440, 0.1)
    right = tone(880, 0.1, amplitude=0.25)
    path = write_wav(tmp_path / "stereo.wav", np.stack([left, right], axis=1))

    np.testing.assert_allclose(read_wav(path, RATE), (left + right) / 2, atol=2**-15)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "invalid WAV file .*clip.wav"),
        (b"this is not audio", "invalid WAV file .*clip.wav"),
    ],
)
def test_read_wav_rejects_non_wav(tmp_path, content, message):
    path = tmp_path / "clip.wav"
    path.write_bytes(content)

    with pytest.raises(UserError, match=message):
        read_wav(path, RATE)


def test_read_wav_rejects_wav_without_samples(tmp_path):
    path = write_wav(tmp_path / "nothing.wav", np.zeros(0))

    with pytest.raises(UserError, match="nothing.wav contains no samples"):
        read_wav(path, RATE)


def test_read_wav_rejects_missing_file(tmp_path):
    with pytest.raises(UserError, match="failed to read .*absent.wav"):
        read_wav(tmp_path / "absent.wav", RATE)


# ---------------------------------------------------------------------------
# Front-end settings


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"filterbank": "bark"}, "unknown filterbank 'bark'"),
        ({"encoder": "rate"}, "unknown encoder 'rate'"),
        ({"channels": 0}, "channels must be at least 1"),
        ({"channels": 2.5}, "channels must be an integer"),
        ({"num_steps": 0}, "num_steps must be at least 1"),
        ({"max_events": 0}, "max_events must be at least 1"),
        ({"max_events": 256}, "max_events must be at most 255"),
        ({"delta_db": 0.0}, "delta_db must be a positive number"),
        ({"floor_db": -60.0}, "floor_db must be a positive number"),
        ({"hop_ms": float("nan")}, "hop_ms must be a positive number"),
        ({"hop_ms": 0.01}, "hop_ms 0.01 is shorter than one sample"),
        ({"high_hz": 4500.0}, "high_hz 4500.0 is above the Nyquist frequency 4000.0"),
        ({"low_hz": 3800.0}, "low_hz 3800.0 must be below high_hz 3800.0"),
        ({"channels": 200}, "mel band 1 of 200 contains no FFT bin"),
    ],
)
def test_front_end_validate_rejects(changes, message):
    front_end = FrontEnd(**changes)

    with pytest.raises(UserError, match=message):
        front_end.validate()


def test_front_end_defaults_and_inputs():
    FrontEnd().validate()
    FrontEnd(filterbank="gammatone", channels=200).validate()

    assert FrontEnd().num_inputs == 32
    assert FrontEnd(encoder="threshold").num_inputs == 16
    assert FrontEnd().hop_samples == 160
    assert FrontEnd().window_samples == 320


def test_front_end_dict_round_trip():
    front_end = FrontEnd(filterbank="gammatone", channels=8, delta_db=3.0)

    assert FrontEnd.from_dict(front_end.to_dict()) == front_end
    with pytest.raises(UserError, match="unknown front-end settings colour"):
        FrontEnd.from_dict({"colour": "blue"})


def test_encode_waveform_rejects_2d_array():
    with pytest.raises(UserError, match=r"1-D array of samples, got shape \(10, 2\)"):
        encode_waveform(np.zeros((10, 2)), FrontEnd())


# ---------------------------------------------------------------------------
# Folder and splits


def test_scan_folder_reads_names(folder):
    recordings = scan_folder(folder)

    assert len(recordings) == 63
    first = recordings[0]
    assert (first.digit, first.speaker, first.index) == (0, "alice", 0)
    assert first.path == folder / "0_alice_0.wav"
    keys = [(r.digit, r.speaker, r.index) for r in recordings]
    assert keys == sorted(keys)


def test_scan_folder_skips_other_names(tmp_path, caplog):
    write_wav(tmp_path / "3_dave_1.wav", tone(440, 0.1))
    write_wav(tmp_path / "3_Dave_2.wav", tone(440, 0.1))
    write_wav(tmp_path / "three_dave_3.wav", tone(440, 0.1))
    (tmp_path / "README.md").write_text("notes")

    with caplog.at_level(logging.WARNING, logger="squat_deploy.data.fsdd"):
        recordings = scan_folder(tmp_path)

    assert [r.path.name for r in recordings] == ["3_dave_1.wav"]
    assert "skipped 2 WAV files" in caplog.text


def test_scan_folder_errors(tmp_path):
    with pytest.raises(UserError, match="FSDD folder .*missing not found"):
        scan_folder(tmp_path / "missing")

    (tmp_path / "README.md").write_text("notes")
    with pytest.raises(UserError, match=r"no \{digit\}_\{speaker\}_\{index\}.wav recordings found in"):
        scan_folder(tmp_path)


def test_index_split(folder, tmp_path):
    train, test = load_fsdd_split(folder, cache_dir=tmp_path)

    assert (train.name, test.name) == ("fsdd-train", "fsdd-test")
    assert len(train) == 18
    assert len(test) == 45
    assert train.labels.dtype == np.int64
    assert np.bincount(train.labels).tolist() == [6, 6, 6]
    assert np.bincount(test.labels).tolist() == [15, 15, 15]
    assert train.spikes.shape == (18, 40, 32)
    assert train.spikes.dtype == np.uint8

    train_recordings, test_recordings = split_recordings(scan_folder(folder))
    assert all(r.index >= 5 for r in train_recordings)
    assert all(r.index < 5 for r in test_recordings)
    for dataset, recordings in ((train, train_recordings), (test, test_recordings)):
        assert dataset.labels.tolist() == [r.digit for r in recordings]
        for position in (0, len(recordings) - 1):
            expected = encode_waveform(read_wav(recordings[position].path, RATE), FrontEnd())
            np.testing.assert_array_equal(dataset.spikes[position], expected)


def test_speaker_split(folder, tmp_path):
    train, test = load_fsdd_split(folder, split="speaker", test_speakers=("bob",), cache_dir=tmp_path)
    train_recordings, test_recordings = split_recordings(scan_folder(folder), "speaker", ("bob",))

    assert len(train) == 42
    assert len(test) == 21
    assert {r.speaker for r in test_recordings} == {"bob"}
    assert {r.speaker for r in train_recordings} == {"alice", "carol"}
    assert test.labels.tolist() == [r.digit for r in test_recordings]


def test_split_limit_is_balanced(folder):
    train, test = split_recordings(scan_folder(folder), limit=7)

    assert [(r.digit, r.speaker, r.index) for r in train] == [
        (0, "alice", 5),
        (1, "alice", 5),
        (2, "alice", 5),
        (0, "bob", 5),
        (1, "bob", 5),
        (2, "bob", 5),
        (0, "carol", 5),
    ]
    assert len(test) == 7
    assert [r.digit for r in test] == [0, 1, 2, 0, 1, 2, 0]


def test_load_limit_matches_split_order(folder, tmp_path):
    full_train, _ = load_fsdd_split(folder, cache_dir=tmp_path)
    train, test = load_fsdd_split(folder, limit=5, cache_dir=tmp_path)

    assert len(train) == 5
    assert len(test) == 5
    np.testing.assert_array_equal(train.spikes, full_train.spikes[:5])


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"split": "random"}, "unknown split 'random': use one of index, speaker"),
        ({"split": "speaker", "test_speakers": ("bob", "zed")}, "test speaker zed not found: .*alice, bob, carol"),
        ({"split": "speaker", "test_speakers": ()}, "at least one test speaker"),
        ({"limit": 0}, "limit must be at least 1, got 0"),
    ],
)
def test_split_errors(folder, tmp_path, arguments, message):
    with pytest.raises(UserError, match=message):
        load_fsdd_split(folder, cache_dir=tmp_path, **arguments)


def test_bad_wav_in_folder_is_named(tmp_path):
    root = tmp_path / "wavs"
    root.mkdir()
    write_wav(root / "1_ann_0.wav", tone(440, 0.2))
    (root / "1_ann_1.wav").write_bytes(b"RIFF garbage")

    with pytest.raises(UserError, match="1_ann_1.wav"):
        load_fsdd_split(root, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_bad_front_end_rejected_by_loader(folder, tmp_path):
    with pytest.raises(UserError, match="unknown encoder"):
        load_fsdd_split(folder, FrontEnd(encoder="rate"), cache_dir=tmp_path)


# ---------------------------------------------------------------------------
# Cache


def fail_reading(path, sample_rate):
    raise AssertionError(f"read {path} although the cache should have been used")


def test_second_load_reads_no_wav(folder, tmp_path, monkeypatch):
    first_train, first_test = load_fsdd_split(folder, cache_dir=tmp_path, progress=True)
    assert len(list(tmp_path.glob("fsdd-*.npz"))) == 1

    monkeypatch.setattr(fsdd, "read_wav", fail_reading)
    train, test = load_fsdd_split(folder, cache_dir=tmp_path)
    speaker_train, _ = load_fsdd_split(folder, split="speaker", test_speakers=("carol",), cache_dir=tmp_path)

    np.testing.assert_array_equal(train.spikes, first_train.spikes)
    np.testing.assert_array_equal(test.spikes, first_test.spikes)
    np.testing.assert_array_equal(test.labels, first_test.labels)
    assert len(speaker_train) == 42


def test_cache_holds_metadata(folder, tmp_path):
    load_fsdd_split(folder, cache_dir=tmp_path)
    (path,) = tmp_path.glob("fsdd-*.npz")

    with np.load(path) as stored:
        recordings = scan_folder(folder)
        assert stored["names"].tolist() == [r.path.name for r in recordings]
        assert stored["digits"].tolist() == [r.digit for r in recordings]
        assert stored["speakers"].tolist() == [r.speaker for r in recordings]
        assert stored["indices"].tolist() == [r.index for r in recordings]
        assert stored["spikes"].shape == (63, 40, 32)


def test_changed_file_changes_key(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "wavs", indices=range(6))
    cache = tmp_path / "cache"
    load_fsdd_split(root, cache_dir=cache)
    key = fsdd.cache_key(scan_folder(root), FrontEnd())

    write_wav(root / "2_bob_5.wav", tone(3000, 0.4))

    assert fsdd.cache_key(scan_folder(root), FrontEnd()) != key
    assert fsdd.cache_key(scan_folder(root), FrontEnd(delta_db=5.0)) != key
    monkeypatch.setattr(fsdd, "read_wav", fail_reading)
    with pytest.raises(AssertionError, match="although the cache"):
        load_fsdd_split(root, cache_dir=cache)
    monkeypatch.undo()
    train, _ = load_fsdd_split(root, cache_dir=cache)
    assert len(list(cache.glob("fsdd-*.npz"))) == 2
    position = [r.path.name for r in split_recordings(scan_folder(root))[0]].index("2_bob_5.wav")
    expected = encode_waveform(read_wav(root / "2_bob_5.wav", RATE), FrontEnd())
    np.testing.assert_array_equal(train.spikes[position], expected)


def test_corrupt_cache_is_rebuilt(folder, tmp_path, caplog):
    first, _ = load_fsdd_split(folder, cache_dir=tmp_path)
    (path,) = tmp_path.glob("fsdd-*.npz")
    path.write_bytes(b"not a zip file")

    with caplog.at_level(logging.WARNING, logger="squat_deploy.data.fsdd"):
        train, _ = load_fsdd_split(folder, cache_dir=tmp_path)

    assert "invalid FSDD cache file" in caplog.text
    np.testing.assert_array_equal(train.spikes, first.spikes)
    with np.load(path) as stored:
        assert stored["spikes"].shape == (63, 40, 32)


def test_mismatched_cache_is_rebuilt(folder, tmp_path, caplog):
    first, _ = load_fsdd_split(folder, cache_dir=tmp_path)
    (path,) = tmp_path.glob("fsdd-*.npz")
    np.savez(path, key=np.array("other"), spikes=np.zeros((1, 40, 32), np.uint8), names=np.array(["0_alice_0.wav"]))

    with caplog.at_level(logging.WARNING, logger="squat_deploy.data.fsdd"):
        train, _ = load_fsdd_split(folder, cache_dir=tmp_path)

    assert "does not match its key" in caplog.text
    np.testing.assert_array_equal(train.spikes, first.spikes)


def test_failed_cache_write_leaves_no_file(folder, tmp_path, monkeypatch, caplog):
    def write_half(handle, **arrays):
        handle.write(b"PK partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez_compressed", write_half)
    with caplog.at_level(logging.WARNING, logger="squat_deploy.data.fsdd"):
        train, _ = load_fsdd_split(folder, cache_dir=tmp_path)

    assert len(train) == 18
    assert "failed to write FSDD cache file" in caplog.text
    assert list(tmp_path.iterdir()) == []


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert fsdd.default_cache_dir() == tmp_path / "squat-deploy" / "fsdd"

    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fsdd.default_cache_dir() == tmp_path / "home" / ".cache" / "squat-deploy" / "fsdd"


# ---------------------------------------------------------------------------
# Real data


def test_real_fsdd_folder(tmp_path):
    if not FSDD_ROOT.is_dir():
        pytest.skip(f"FSDD folder {FSDD_ROOT} not found; set SQUAT_FSDD to its path")

    train, test = load_fsdd_split(FSDD_ROOT, cache_dir=tmp_path)

    assert len(train) == 2250
    assert len(test) == 250
    assert np.bincount(train.labels).tolist() == [225] * 10
    assert np.bincount(test.labels).tolist() == [25] * 10
    assert train.spikes.shape == (2250, 40, 32)
    assert np.all(train.spikes.sum(axis=(1, 2)) > 0)
    assert np.all(test.spikes.sum(axis=(1, 2)) > 0)

    speaker_train, speaker_test = load_fsdd_split(FSDD_ROOT, split="speaker", cache_dir=tmp_path)
    assert len(speaker_test) == 500
    assert len(speaker_train) == 2000
    assert np.bincount(speaker_test.labels).tolist() == [50] * 10
