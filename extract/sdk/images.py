"""Images as PNG: what ``run.log_image`` stores and ``RunData.image`` reads back.

Every image, whatever it came as, is turned into an 8-bit numpy array (H x W gray,
H x W x 3 RGB or H x W x 4 RGBA) and encoded by extract/objects/png.py with numpy and
zlib, so Pillow is never needed to log arrays, and every PNG extract stores is one it
decodes without Pillow.

Accepted: numpy arrays of uint8 (0-255) or float (0.0-1.0, clipped), in H x W,
H x W x 1, H x W x 3 or H x W x 4; anything with ``__array__`` or ``.numpy()`` (a
torch tensor on the CPU, say) the same way; PIL images in any mode (converted to
L, RGB or RGBA).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from extract.objects.png import CHANNELS_TO_COLOR_TYPE, UnsupportedPNG, decode_png, encode_png

__all__ = ["decode", "encode_png", "to_pixels"]


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
    if arr.ndim != 3 or arr.shape[2] not in CHANNELS_TO_COLOR_TYPE or 0 in arr.shape[:2]:
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


def decode(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Stored PNG bytes as H x W x C uint8 pixels; a PNG extract did not write (one from
    an older or another writer) through Pillow, when it is installed."""
    try:
        return decode_png(data)
    except UnsupportedPNG:
        pass
    import io

    try:
        from PIL import Image
    except ImportError:
        raise ValueError(
            "this PNG uses filters or a bit depth extract does not decode itself; "
            "install Pillow (pip install 'extract-tracker[images]') to read it"
        ) from None
    with Image.open(io.BytesIO(data)) as img:
        return to_pixels(img, "reading a PNG")
