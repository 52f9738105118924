"""Images as PNG: what ``run.log_image`` stores and ``RunData.image`` reads back.

Every image, whatever it came as, is turned into an 8-bit numpy array (H x W gray,
H x W x 3 RGB or H x W x 4 RGBA) and encoded here with numpy and zlib: filter "Up" on
every row and zlib level 6, as fast as Pillow's default and within a few percent of its
size on photos and plots (measured). So Pillow is never needed to log arrays, and every
PNG extract stores is one this module decodes without it. The same pixels always give
the same bytes, so a re-logged image is stored once (objects are content-addressed).

Accepted: numpy arrays of uint8 (0-255) or float (0.0-1.0, clipped), in H x W,
H x W x 1, H x W x 3 or H x W x 4; anything with ``__array__`` or ``.numpy()`` (a
torch tensor on the CPU, say) the same way; PIL images in any mode (converted to
L, RGB or RGBA).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type
_CHANNELS = {v: k for k, v in _COLOR_TYPE.items()}


def to_pixels(image: Any, what: str = "log_image()") -> np.ndarray[Any, np.dtype[np.uint8]]:
    """An image as an H x W x C uint8 array (C in 1-4), or a TypeError/ValueError that
    says what is accepted."""
    if hasattr(image, "mode") and hasattr(image, "convert") and hasattr(image, "size"):
        mode = image.mode
        if mode not in ("L", "LA", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in mode or mode == "P" else "RGB")
        arr = np.asarray(image)
    elif isinstance(image, np.ndarray):
        arr = image
    elif callable(getattr(image, "numpy", None)):  # torch tensors (detached, on the CPU)
        arr = np.asarray(
            image.detach().cpu().numpy() if hasattr(image, "detach") else image.numpy()
        )
    elif hasattr(image, "__array__"):
        arr = np.asarray(image)
    else:
        raise TypeError(
            f"{what}: image must be a numpy array (H x W, H x W x 3 or H x W x 4) or a PIL "
            f"image, got {type(image).__name__}"
        )
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in _COLOR_TYPE or 0 in arr.shape[:2]:
        raise ValueError(
            f"{what}: image shape {tuple(arr.shape)} is not H x W, H x W x 1, H x W x 3 or "
            "H x W x 4 (channels last) with H, W >= 1"
        )
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{what}: a float image must not hold NaN or Inf")
        return np.ascontiguousarray(np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8))
    if arr.dtype.kind == "b":
        return np.ascontiguousarray(arr.astype(np.uint8) * 255)
    if arr.dtype.kind in "iu" and arr.size and arr.min() >= 0 and arr.max() <= 255:
        return np.ascontiguousarray(arr.astype(np.uint8))
    raise TypeError(f"{what}: image dtype {arr.dtype} is not uint8 (0-255) or float (0.0-1.0)")


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def encode_png(pixels: np.ndarray[Any, np.dtype[np.uint8]], level: int = 6) -> bytes:
    """H x W x C uint8 pixels as PNG bytes (8-bit, filter Up on every row)."""
    h, w, c = pixels.shape
    rows = pixels.reshape(h, w * c)
    raw = np.empty((h, w * c + 1), np.uint8)
    raw[:, 0] = 2  # filter type 2, "Up": the difference from the row above (mod 256)
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPE[c], 0, 0, 0)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


def decode_png(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """PNG bytes as H x W x C uint8 pixels: the PNGs ``encode_png`` writes (8-bit,
    filters None or Up, no interlace), else through Pillow when it is installed."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG (bad signature)")
    pos, header, idat = len(SIGNATURE), b"", []
    while pos + 8 <= len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + n]
        pos += 12 + n
        if tag == b"IHDR":
            header = body
        elif tag == b"IDAT":
            idat.append(body)
        elif tag == b"IEND":
            break
    w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    c = _CHANNELS.get(color)
    raw = None
    if depth == 8 and c is not None and not interlace:
        raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(h, w * c + 1)
    if raw is None or c is None or not np.all((raw[:, 0] == 0) | (raw[:, 0] == 2)):
        return _decode_with_pillow(data)
    if np.all(raw[1:, 0] == 2):  # extract's own PNGs: every row is a running sum (mod 256)
        rows = np.cumsum(raw[:, 1:], axis=0, dtype=np.uint8)
    else:
        rows = raw[:, 1:].copy()
        for i in range(1, h):  # Up: add the reconstructed row above, mod 256
            if raw[i, 0] == 2:
                rows[i] += rows[i - 1]
    return rows.reshape(h, w, c)  # (Up on the first row adds the zero row above it)


def _decode_with_pillow(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    import io

    try:
        from PIL import Image
    except ImportError:
        raise ValueError(
            "this PNG uses filters or a bit depth extract does not decode itself; "
            "install Pillow (pip install 'extract-tracker[images]') to read it"
        ) from None
    with Image.open(io.BytesIO(data)) as img:
        return to_pixels(img, "decode_png()")
