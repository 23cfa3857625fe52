"""Image grids and PNG encoding, shared by snapshots, the CLI and the UI."""

from __future__ import annotations

import io
import math

import numpy as np


def make_grid(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile images (N, H, W) in [0, 1] into one uint8 grid image with thin dark gutters."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"Expected images of shape (N, H, W). Received: shape={images.shape}")
    count, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.zeros((rows * (height + padding) + padding, columns * (width + padding) + padding), np.uint8)
    pixels = (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top : top + height, left : left + width] = pixels[index]
    return grid


def png_bytes(grid: np.ndarray, scale: int = 1) -> bytes:
    """Encode a uint8 grayscale array as PNG, optionally enlarged with nearest-neighbour pixels."""
    from PIL import Image

    if scale > 1:
        grid = np.kron(grid, np.ones((scale, scale), dtype=np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(grid, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
