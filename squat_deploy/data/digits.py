"""scikit-learn's bundled 8x8 digits, presented over time as spike trains.

Each pixel (0 to 16) drives an integrate-and-fire encoder: every step adds the
pixel value to an accumulator, and a spike is emitted, taking 16 away, when
the accumulator reaches 16. Over 16 steps a pixel of value ``v`` emits exactly
``v`` spikes, evenly spread, so the encoding is lossless and needs no random
numbers.

Targets with few input channels or output neurons get a reduced variant.
``pooling = 2`` sums 2x2 pixel blocks into 16 channels of 0 to 64, which the
same encoder turns into up to 4 events per channel and step. ``classes``
keeps only the digits below that number.
"""

from __future__ import annotations

import dataclasses

import numpy as np

FULL_SCALE = 16


@dataclasses.dataclass
class SpikeDataset:
    """Spike rasters of shape (samples, time, inputs), uint8, and integer labels."""

    spikes: np.ndarray
    labels: np.ndarray
    name: str

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1


def encode_rate(pixels: np.ndarray, num_steps: int, full_scale: int = FULL_SCALE) -> np.ndarray:
    """Encode integer intensities (samples, inputs) as (samples, time, inputs) event counts.

    An intensity up to ``full_scale`` gives at most one event per step; a
    larger one gives ``accumulator // full_scale`` events.
    """
    pixels = np.asarray(pixels, dtype=np.int64)
    accumulator = np.zeros_like(pixels)
    spikes = np.zeros((pixels.shape[0], num_steps, pixels.shape[1]), dtype=np.uint8)
    for t in range(num_steps):
        accumulator += pixels
        events = accumulator // full_scale
        spikes[:, t] = events
        accumulator -= events * full_scale
    return spikes


def pool_pixels(pixels: np.ndarray, pooling: int) -> np.ndarray:
    """Sum ``pooling`` x ``pooling`` blocks of 8x8 images given as (samples, 64)."""
    if pooling == 1:
        return pixels
    side = 8 // pooling
    images = pixels.reshape(-1, side, pooling, side, pooling)
    return images.sum(axis=(2, 4)).reshape(len(pixels), side * side)


def load_digits_split(
    num_steps: int = 16,
    test_fraction: float = 0.2,
    seed: int = 0,
    limit: int | None = None,
    pooling: int = 1,
    classes: int = 10,
):
    """Return ``(train, test)`` spike datasets of the bundled digits.

    The split is stratified by class and fixed by ``seed``; ``limit`` keeps
    only the first samples of each split (for quick runs and tests).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    keep = digits.target < classes
    pixels = pool_pixels(digits.data.astype(np.int64)[keep], pooling)
    labels = digits.target.astype(np.int64)[keep]
    train_x, test_x, train_y, test_y = train_test_split(
        pixels, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    if limit is not None:
        train_x, train_y = train_x[:limit], train_y[:limit]
        test_x, test_y = test_x[:limit], test_y[:limit]
    train = SpikeDataset(encode_rate(train_x, num_steps), train_y, "digits-train")
    test = SpikeDataset(encode_rate(test_x, num_steps), test_y, "digits-test")
    return train, test
