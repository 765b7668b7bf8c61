"""Spoken digits from a folder of WAV files, encoded as spike rasters.

The folder follows the Free Spoken Digit Dataset (FSDD) layout: files named
``{digit}_{speaker}_{index}.wav`` (digit 0-9, speaker a lowercase name, index
0-49), mono 16-bit PCM at 8 kHz. Only the top level of the folder is read.
Other files are ignored, and ``.wav`` files whose names do not match are
skipped with one logged warning that gives their count.

Front end, with the defaults of ``FrontEnd``:

1. Reading. 8-, 16-, 24- and 32-bit integer PCM is scaled to [-1, 1).
   Channels are averaged. A file at another rate is resampled to
   ``sample_rate`` (8000 Hz) with ``scipy.signal.resample_poly``.
2. Framing. ``hop = round(hop_ms * sample_rate / 1000)`` samples (20 ms, 160
   samples) and a window of ``2 * hop`` samples. Frame ``t`` covers samples
   ``[t * hop, t * hop + 2 * hop)`` of the waveform zero-padded at its end,
   for ``t < ceil(len / hop)``.
3. Filterbank, ``channels`` (16) bands between ``low_hz`` (100) and
   ``high_hz`` (3800):

   * ``"mel"``: power spectrum ``|rfft(hann * frame)|**2`` of each frame,
     with a periodic Hann window and an FFT as long as the window. The power
     is weighted by unit-height triangular filters whose ``channels + 2``
     edge and centre frequencies are equally spaced on the HTK mel scale
     ``m = 2595 * log10(1 + f / 700)``.
   * ``"gammatone"``: 4th-order gammatone IIR filters
     (``scipy.signal.gammatone``). Their centre frequencies are the inner
     ``channels`` of ``channels + 2`` points equally spaced on the ERB-rate
     scale ``E = 21.4 * log10(1 + 0.00437 * f)`` (Glasberg and Moore, 1990).
     The output is half-wave rectified and squared, and each frame takes the
     mean over its window.

4. Levels. ``level = 10 * log10(power / max_power)`` dB, where
   ``max_power`` is the clip's maximum band power over all frames, so the
   loudness of a recording does not matter. A clip of background noise
   alone is scaled up like speech. Levels are floored at ``-floor_db``
   (-60 dB), and a silent clip (all samples 0) is at the floor everywhere.
5. Trimming. The raster starts at the first frame whose total power (the sum
   over bands) is within ``trim_db`` (30 dB) of the clip's maximum total
   power. It is then cropped to ``num_steps`` (40) frames. A shorter clip is
   encoded as it is and its raster is padded with steps that carry no events.
6. Encoder, counts clipped to ``max_events`` (4) per channel and step:

   * ``"delta"`` (send-on-delta, ``delta_encode``): each band keeps a
     reference that starts at ``-floor_db``. At each step it emits
     ``floor((level - ref) / delta_db)`` UP events when that is positive, or
     ``floor((ref - level) / delta_db)`` DOWN events when that is positive,
     and moves ``ref`` by ``delta_db`` (6 dB) per emitted event. A clipped
     step moves it only by the events emitted, so that
     ``ref = -floor_db + delta_db * (all UP - all DOWN)`` is true at every
     step and the encoder catches up on later steps. The ``2 * channels`` inputs
     are ``[UP of band 0..channels-1, DOWN of band 0..channels-1]``, bands
     from low to high frequency.
   * ``"threshold"`` (integrate-and-fire, ``threshold_encode``): each band
     adds its normalised level ``(level + floor_db) / floor_db``, in [0, 1],
     to an accumulator that starts at 0. Each time the accumulator reaches 1
     the band emits an event and 1 is subtracted. There is one input per
     band, so at most one event per step.

Splits (``load_fsdd_split``):

* ``"index"`` (the FSDD convention): test = recording indices 0-4, train =
  indices 5 and above (5-49 in FSDD).
* ``"speaker"``: test = every recording of ``test_speakers``, train = the
  other speakers.

Each split is ordered by ``split_recordings``, and ``limit`` keeps a prefix of
that order. Labels are the digits. ``split_recordings`` returns the
``Recording`` (path, digit, speaker, index) of every sample in dataset order,
and this is where the speaker and index of a sample are found.

Encoded rasters of a whole folder are cached in one ``.npz`` file per key,
the sha256 of ``FrontEnd.to_dict()``, ``CACHE_FORMAT`` and the name, size and
``mtime_ns`` of every recording. The default cache folder is
``$XDG_CACHE_HOME/squat-deploy/fsdd``, or ``~/.cache/squat-deploy/fsdd`` when
``XDG_CACHE_HOME`` is not set.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import re
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from squat_deploy.data.digits import SpikeDataset
from squat_deploy.errors import UserError
from squat_deploy.files import atomic_output

logger = logging.getLogger(__name__)

FILTERBANKS = ("mel", "gammatone")
ENCODERS = ("delta", "threshold")
SPLITS = ("index", "speaker")

# Recordings with an index below this are the test set of the "index" split.
TEST_INDICES = 5

# Part of the cache key: raise it whenever the encoding of a given FrontEnd
# changes, so that old cache files are not reused.
CACHE_FORMAT = 1

FILE_PATTERN = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[a-z]+)_(?P<index>[0-9]+)\.wav$")


@dataclasses.dataclass(frozen=True)
class FrontEnd:
    """Settings of the cochlea-like front end. The module docstring gives the formulas."""

    filterbank: str = "mel"
    channels: int = 16
    encoder: str = "delta"
    num_steps: int = 40
    hop_ms: float = 20.0
    sample_rate: int = 8000
    low_hz: float = 100.0
    high_hz: float = 3800.0
    floor_db: float = 60.0
    trim_db: float = 30.0
    delta_db: float = 6.0
    max_events: int = 4

    def validate(self) -> None:
        """Raise UserError naming the first invalid setting."""
        if self.filterbank not in FILTERBANKS:
            raise UserError(f"unknown filterbank {self.filterbank!r}: use one of {', '.join(FILTERBANKS)}")
        if self.encoder not in ENCODERS:
            raise UserError(f"unknown encoder {self.encoder!r}: use one of {', '.join(ENCODERS)}")
        for name in ("channels", "num_steps", "sample_rate", "max_events"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise UserError(f"front-end {name} must be an integer, got {value!r}")
            if value < 1:
                raise UserError(f"front-end {name} must be at least 1, got {value}")
        if self.max_events > 255:
            raise UserError(f"front-end max_events must be at most 255 to fit uint8 counts, got {self.max_events}")
        for name in ("hop_ms", "low_hz", "high_hz", "floor_db", "trim_db", "delta_db"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise UserError(f"front-end {name} must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise UserError(f"front-end {name} must be a positive number, got {value}")
        if self.hop_samples < 1:
            raise UserError(
                f"front-end hop_ms {self.hop_ms} is shorter than one sample at {self.sample_rate} Hz: raise hop_ms"
            )
        if self.high_hz > self.sample_rate / 2:
            raise UserError(
                f"front-end high_hz {self.high_hz} is above the Nyquist frequency {self.sample_rate / 2} Hz "
                f"of sample_rate {self.sample_rate}: lower high_hz or raise sample_rate"
            )
        if self.low_hz >= self.high_hz:
            raise UserError(f"front-end low_hz {self.low_hz} must be below high_hz {self.high_hz}")
        if self.filterbank == "mel":
            weights = mel_filters(self.channels, self.window_samples, self.sample_rate, self.low_hz, self.high_hz)
            empty = np.flatnonzero(weights.max(axis=1) == 0)
            if len(empty):
                raise UserError(
                    f"mel band {int(empty[0])} of {self.channels} contains no FFT bin at a {self.window_samples}-sample "
                    f"window: use fewer channels, a wider low_hz-high_hz range or a longer hop_ms"
                )

    @property
    def num_inputs(self) -> int:
        """Input channels of the raster: two per band (UP, DOWN) for delta, one for threshold."""
        return 2 * self.channels if self.encoder == "delta" else self.channels

    @property
    def hop_samples(self) -> int:
        """Frame hop in samples at ``sample_rate``."""
        return int(round(self.hop_ms * self.sample_rate / 1000))

    @property
    def window_samples(self) -> int:
        """Frame window in samples: twice the hop."""
        return 2 * self.hop_samples

    def to_dict(self) -> dict:
        """Return the settings as a JSON-compatible dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, settings: dict) -> FrontEnd:
        """Build and validate a FrontEnd from ``to_dict()`` output; missing keys take the defaults."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise UserError(f"unknown front-end settings {', '.join(unknown)}: known are {', '.join(sorted(known))}")
        front_end = cls(**settings)
        front_end.validate()
        return front_end


@dataclasses.dataclass(frozen=True)
class Recording:
    """One WAV file of the folder and the digit, speaker and index that its name gives."""

    path: Path
    digit: int
    speaker: str
    index: int


# ---------------------------------------------------------------------------
# Reading


def read_wav(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read a PCM WAV file as float64 samples in [-1, 1) at ``sample_rate``.

    Channels are averaged. Raises UserError naming the file when it is not a
    readable PCM WAV file or contains no samples.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as reader:
            channels = reader.getnchannels()
            width = reader.getsampwidth()
            rate = reader.getframerate()
            data = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as error:
        raise UserError(f"invalid WAV file {path}: {error}. Use 8-, 16-, 24- or 32-bit integer PCM") from None
    except OSError as error:
        raise UserError(f"failed to read {path}: {error.strerror or error}") from None

    frames = len(data) // (width * channels)
    if frames == 0:
        raise UserError(f"WAV file {path} contains no samples")
    samples = _pcm_to_float(data[: frames * width * channels], width, path)
    samples = samples.reshape(frames, channels).mean(axis=1)

    if rate != sample_rate:
        from scipy.signal import resample_poly

        common = math.gcd(rate, sample_rate)
        samples = resample_poly(samples, sample_rate // common, rate // common)
    return samples


def _pcm_to_float(data: bytes, width: int, path: Path) -> np.ndarray:
    """Convert little-endian PCM bytes to float64 in [-1, 1)."""
    if width == 1:
        # 8-bit WAV is unsigned, with silence at 128.
        return (np.frombuffer(data, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(data, dtype="<i2").astype(np.float64) / 2.0**15
    if width == 3:
        triples = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        return values.astype(np.float64) / 2.0**23
    if width == 4:
        return np.frombuffer(data, dtype="<i4").astype(np.float64) / 2.0**31
    raise UserError(f"WAV file {path} has {8 * width}-bit samples: use 8-, 16-, 24- or 32-bit PCM")


# ---------------------------------------------------------------------------
# Filterbanks


def hz_to_mel(hz):
    """Convert Hz to mel on the HTK scale, ``2595 * log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    """Convert mel on the HTK scale to Hz."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def hz_to_erb_rate(hz):
    """Convert Hz to the ERB-rate scale, ``21.4 * log10(1 + 0.00437 * f)``."""
    return 21.4 * np.log10(1.0 + 0.00437 * np.asarray(hz, dtype=np.float64))


def erb_rate_to_hz(erb_rate):
    """Convert ERB-rate to Hz."""
    return (10.0 ** (np.asarray(erb_rate, dtype=np.float64) / 21.4) - 1.0) / 0.00437


@functools.lru_cache(maxsize=16)
def mel_filters(channels: int, fft_size: int, sample_rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Return unit-height triangular mel filters as a (channels, fft_size // 2 + 1) weight matrix."""
    edges = mel_to_hz(np.linspace(hz_to_mel(low_hz), hz_to_mel(high_hz), channels + 2))
    bins = np.arange(fft_size // 2 + 1) * sample_rate / fft_size
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights.flags.writeable = False
    return weights


def gammatone_centres(channels: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Return the inner ``channels`` of ``channels + 2`` ERB-rate-spaced frequencies from low_hz to high_hz."""
    points = np.linspace(hz_to_erb_rate(low_hz), hz_to_erb_rate(high_hz), channels + 2)
    return erb_rate_to_hz(points[1:-1])


@functools.lru_cache(maxsize=16)
def _gammatone_sections(channels: int, sample_rate: int, low_hz: float, high_hz: float) -> tuple[np.ndarray, ...]:
    """Return one second-order-section array per gammatone band."""
    from scipy.signal import gammatone, tf2sos

    # The 8th-order transfer function is split into second-order sections,
    # which stay accurate for centre frequencies far below the sample rate.
    return tuple(
        tf2sos(*gammatone(centre, "iir", fs=sample_rate))
        for centre in gammatone_centres(channels, low_hz, high_hz)
    )


def _frame(signal: np.ndarray, hop: int, window: int) -> np.ndarray:
    """Return a read-only (..., ceil(n / hop), window) view of frames of the last axis."""
    count = -(-signal.shape[-1] // hop)
    padded = np.zeros(signal.shape[:-1] + ((count - 1) * hop + window,), dtype=np.float64)
    padded[..., : signal.shape[-1]] = signal
    view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)
    return view[..., ::hop, :]


def band_powers(samples: np.ndarray, front_end: FrontEnd) -> np.ndarray:
    """Return the (frames, channels) band power of a waveform at ``front_end.sample_rate``."""
    hop, window = front_end.hop_samples, front_end.window_samples
    if len(samples) == 0:
        return np.zeros((0, front_end.channels))

    if front_end.filterbank == "mel":
        frames = _frame(samples, hop, window)
        hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(window) / window)
        spectrum = np.abs(np.fft.rfft(frames * hann, axis=-1)) ** 2
        weights = mel_filters(front_end.channels, window, front_end.sample_rate, front_end.low_hz, front_end.high_hz)
        return spectrum @ weights.T

    from scipy.signal import sosfilt

    sections = _gammatone_sections(front_end.channels, front_end.sample_rate, front_end.low_hz, front_end.high_hz)
    filtered = np.stack([sosfilt(sos, samples) for sos in sections])
    rectified_power = np.maximum(filtered, 0.0) ** 2
    return _frame(rectified_power, hop, window).mean(axis=-1).T


# ---------------------------------------------------------------------------
# Levels and encoders


def levels_db(powers: np.ndarray, floor_db: float) -> np.ndarray:
    """Return band levels in dB relative to the maximum of ``powers``, floored at ``-floor_db``."""
    powers = np.asarray(powers, dtype=np.float64)
    peak = powers.max(initial=0.0)
    if peak <= 0:
        return np.full(powers.shape, -float(floor_db))
    floor_power = peak * 10.0 ** (-floor_db / 10.0)
    return np.maximum(10.0 * np.log10(np.maximum(powers, floor_power) / peak), -float(floor_db))


def trim_start(powers: np.ndarray, trim_db: float) -> int:
    """Return the first frame whose total power is within ``trim_db`` of the maximum frame total, 0 if silent."""
    totals = np.asarray(powers, dtype=np.float64).sum(axis=1)
    peak = totals.max(initial=0.0)
    if peak <= 0:
        return 0
    return int(np.argmax(totals >= peak * 10.0 ** (-trim_db / 10.0)))


def delta_encode(levels: np.ndarray, delta_db: float, floor_db: float, max_events: int) -> np.ndarray:
    """Send-on-delta encode (time, bands) levels in dB into (time, 2 * bands) counts [UP..., DOWN...].

    The module docstring states the rule. Counts are uint8, at most ``max_events``.
    """
    levels = np.asarray(levels, dtype=np.float64)
    steps, bands = levels.shape
    counts = np.zeros((steps, 2 * bands), dtype=np.uint8)
    # The reference is -floor_db + delta_db * net, with net = UP - DOWN so
    # far, kept as an integer so that it does not drift.
    net = np.zeros(bands, dtype=np.int64)
    for t in range(steps):
        reference = -floor_db + delta_db * net
        up = np.clip(np.floor((levels[t] - reference) / delta_db), 0, max_events).astype(np.int64)
        down = np.clip(-np.ceil((levels[t] - reference) / delta_db), 0, max_events).astype(np.int64)
        counts[t, :bands] = up
        counts[t, bands:] = down
        net += up - down
    return counts


def threshold_encode(levels: np.ndarray, floor_db: float, max_events: int) -> np.ndarray:
    """Integrate-and-fire encode (time, bands) levels in dB into (time, bands) counts.

    Each band accumulates ``(level + floor_db) / floor_db`` per step and emits
    ``floor(accumulator)`` events, at most ``max_events``, subtracting one per
    event. Counts are uint8.
    """
    normalised = np.clip((np.asarray(levels, dtype=np.float64) + floor_db) / floor_db, 0.0, 1.0)
    counts = np.zeros(normalised.shape, dtype=np.uint8)
    accumulator = np.zeros(normalised.shape[1])
    for t in range(normalised.shape[0]):
        accumulator += normalised[t]
        events = np.minimum(np.floor(accumulator), max_events)
        counts[t] = events
        accumulator -= events
    return counts


def encode_waveform(samples: np.ndarray, front_end: FrontEnd) -> np.ndarray:
    """Encode a float waveform in [-1, 1] at ``front_end.sample_rate`` as a (num_steps, num_inputs) uint8 raster."""
    front_end.validate()
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 1:
        raise UserError(f"waveform must be a 1-D array of samples, got shape {samples.shape}")

    powers = band_powers(samples, front_end)
    levels = levels_db(powers, front_end.floor_db)
    start = trim_start(powers, front_end.trim_db)
    levels = levels[start : start + front_end.num_steps]

    if front_end.encoder == "delta":
        counts = delta_encode(levels, front_end.delta_db, front_end.floor_db, front_end.max_events)
    else:
        counts = threshold_encode(levels, front_end.floor_db, front_end.max_events)

    raster = np.zeros((front_end.num_steps, front_end.num_inputs), dtype=np.uint8)
    raster[: len(counts)] = counts
    return raster


# ---------------------------------------------------------------------------
# Folder, splits and cache


def scan_folder(root: str | Path) -> list[Recording]:
    """List the recordings in ``root``, sorted by digit, speaker and index.

    Raises UserError when ``root`` is not a folder or contains no recording.
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"FSDD folder {root} not found: pass the folder of {{digit}}_{{speaker}}_{{index}}.wav files")

    recordings = []
    skipped = []
    for path in root.iterdir():
        match = FILE_PATTERN.match(path.name)
        if match is None:
            if path.name.lower().endswith(".wav") and not path.name.startswith("."):
                skipped.append(path.name)
            continue
        if not path.is_file():
            continue
        recordings.append(
            Recording(path, int(match["digit"]), match["speaker"], int(match["index"]))
        )

    if skipped:
        logger.warning(
            "skipped %d WAV files in %s whose names do not match {digit}_{speaker}_{index}.wav, e.g. %s",
            len(skipped), root, sorted(skipped)[0],
        )
    if not recordings:
        raise UserError(f"no {{digit}}_{{speaker}}_{{index}}.wav recordings found in {root}")
    recordings.sort(key=lambda recording: (recording.digit, recording.speaker, recording.index))
    return recordings


def _round_robin(groups: Sequence[Sequence]) -> list:
    """Take the first item of each group in turn, then the second, and so on."""
    merged = []
    for position in range(max((len(group) for group in groups), default=0)):
        merged.extend(group[position] for group in groups if position < len(group))
    return merged


def balanced_order(recordings: Sequence[Recording]) -> list[Recording]:
    """Order recordings so that every prefix is balanced over digits and, within a digit, over speakers.

    Within a digit, each speaker's recordings are sorted by index and the
    speakers (in name order) are interleaved: the k-th recording of every
    speaker comes before the (k+1)-th of any. The digits (0 to 9) are then
    interleaved the same way.
    """
    per_digit = []
    for digit in sorted({recording.digit for recording in recordings}):
        of_digit = [recording for recording in recordings if recording.digit == digit]
        per_speaker = [
            sorted((r for r in of_digit if r.speaker == speaker), key=lambda r: r.index)
            for speaker in sorted({r.speaker for r in of_digit})
        ]
        per_digit.append(_round_robin(per_speaker))
    return _round_robin(per_digit)


def split_recordings(
    recordings: Sequence[Recording],
    split: str = "index",
    test_speakers: tuple[str, ...] = ("theo",),
    limit: int | None = None,
) -> tuple[list[Recording], list[Recording]]:
    """Return the ``(train, test)`` recordings of a split, each in ``balanced_order``.

    ``limit`` keeps the first ``limit`` recordings of each. The i-th sample of
    the datasets that ``load_fsdd_split`` returns is the i-th recording here.
    """
    if limit is not None and limit < 1:
        raise UserError(f"limit must be at least 1, got {limit}")
    if split == "index":
        is_test = [recording.index < TEST_INDICES for recording in recordings]
    elif split == "speaker":
        if isinstance(test_speakers, str):
            test_speakers = (test_speakers,)
        found = sorted({recording.speaker for recording in recordings})
        missing = [speaker for speaker in test_speakers if speaker not in found]
        if missing:
            raise UserError(
                f"test speaker {', '.join(missing)} not found: the folder contains speakers {', '.join(found)}"
            )
        if not test_speakers:
            raise UserError(f"the speaker split needs at least one test speaker: choose from {', '.join(found)}")
        is_test = [recording.speaker in test_speakers for recording in recordings]
    else:
        raise UserError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")

    train = balanced_order([r for r, test in zip(recordings, is_test) if not test])
    test = balanced_order([r for r, test in zip(recordings, is_test) if test])
    if limit is not None:
        train, test = train[:limit], test[:limit]
    return train, test


def default_cache_dir() -> Path:
    """Return ``$XDG_CACHE_HOME/squat-deploy/fsdd``, or ``~/.cache/squat-deploy/fsdd``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "squat-deploy" / "fsdd"


def cache_key(recordings: Sequence[Recording], front_end: FrontEnd) -> str:
    """Return the sha256 hex digest over the front end, CACHE_FORMAT and each file's name, size and mtime_ns."""
    files = []
    for recording in recordings:
        status = recording.path.stat()
        files.append([recording.path.name, status.st_size, status.st_mtime_ns])
    payload = {"format": CACHE_FORMAT, "front_end": front_end.to_dict(), "files": files}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def encode_recordings(recordings: Sequence[Recording], front_end: FrontEnd, progress: bool = False) -> np.ndarray:
    """Read and encode recordings into a (len(recordings), num_steps, num_inputs) uint8 array."""
    from tqdm import tqdm

    front_end.validate()
    spikes = np.zeros((len(recordings), front_end.num_steps, front_end.num_inputs), dtype=np.uint8)
    for position, recording in enumerate(tqdm(recordings, desc="encoding FSDD", unit="file", disable=not progress)):
        spikes[position] = encode_waveform(read_wav(recording.path, front_end.sample_rate), front_end)
    return spikes


def _read_cache(path: Path, key: str, recordings: Sequence[Recording], front_end: FrontEnd) -> np.ndarray | None:
    """Return the cached rasters, or None when the file is missing or does not contain this key's data."""
    if not path.is_file():
        return None
    expected = (len(recordings), front_end.num_steps, front_end.num_inputs)
    try:
        with np.load(path, allow_pickle=False) as stored:
            stored_key = str(stored["key"])
            spikes = stored["spikes"]
            names = [str(name) for name in stored["names"]]
    except Exception as error:  # numpy and zipfile raise many types for a damaged file
        logger.warning("invalid FSDD cache file %s (%s: %s), encoding the folder again", path, type(error).__name__, error)
        return None
    if (
        stored_key != key
        or spikes.shape != expected
        or spikes.dtype != np.uint8
        or names != [recording.path.name for recording in recordings]
    ):
        logger.warning("FSDD cache file %s does not match its key, encoding the folder again", path)
        return None
    return spikes


def _write_cache(path: Path, key: str, recordings: Sequence[Recording], spikes: np.ndarray) -> None:
    """Write the rasters and each recording's name, digit, speaker and index to ``path`` atomically."""
    try:
        with atomic_output(path, create_folder=True) as temporary, open(temporary, "wb") as handle:
            np.savez_compressed(
                handle,
                key=np.array(key),
                spikes=spikes,
                names=np.array([recording.path.name for recording in recordings]),
                digits=np.array([recording.digit for recording in recordings], dtype=np.int64),
                speakers=np.array([recording.speaker for recording in recordings]),
                indices=np.array([recording.index for recording in recordings], dtype=np.int64),
            )
    except OSError as error:
        logger.warning("failed to write FSDD cache file %s (%s), so the next load encodes the folder again", path, error)


def load_fsdd_rasters(
    root: str | Path,
    front_end: FrontEnd = FrontEnd(),
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> tuple[list[Recording], np.ndarray]:
    """Return every recording of ``root`` (``scan_folder`` order) and its raster, through the cache."""
    front_end.validate()
    recordings = scan_folder(root)
    return recordings, _cached_rasters(recordings, front_end, cache_dir, progress)


def _cached_rasters(
    recordings: Sequence[Recording], front_end: FrontEnd, cache_dir: str | Path | None, progress: bool
) -> np.ndarray:
    """Return the rasters of ``recordings`` from the cache, encoding and caching them on a miss."""
    key = cache_key(recordings, front_end)
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"fsdd-{key[:32]}.npz"

    spikes = _read_cache(path, key, recordings, front_end)
    if spikes is None:
        spikes = encode_recordings(recordings, front_end, progress=progress)
        _write_cache(path, key, recordings, spikes)
    return spikes


def load_fsdd_split(
    root: str | Path,
    front_end: FrontEnd = FrontEnd(),
    split: str = "index",
    test_speakers: tuple[str, ...] = ("theo",),
    limit: int | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> tuple[SpikeDataset, SpikeDataset]:
    """Return ``(train, test)`` spike datasets named "fsdd-train" and "fsdd-test", labelled by digit.

    ``split_recordings`` with the same arguments gives each sample's
    recording (speaker, index, path) in the same order. The whole folder is
    encoded once per front end and cached in ``cache_dir``.
    """
    front_end.validate()
    recordings = scan_folder(root)
    # Split first so that a bad split or speaker is reported before encoding.
    train, test = split_recordings(recordings, split, test_speakers, limit)
    spikes = _cached_rasters(recordings, front_end, cache_dir, progress)

    position = {recording.path.name: i for i, recording in enumerate(recordings)}
    datasets = []
    for name, chosen in (("fsdd-train", train), ("fsdd-test", test)):
        rows = np.array([position[recording.path.name] for recording in chosen], dtype=np.int64)
        labels = np.array([recording.digit for recording in chosen], dtype=np.int64)
        datasets.append(SpikeDataset(spikes[rows], labels, name))
    return datasets[0], datasets[1]
