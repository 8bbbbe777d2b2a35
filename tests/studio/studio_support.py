"""Helpers of the studio tests: the bundled sample's truth and the API's mask encoding."""

from __future__ import annotations

import base64
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample"
TOKEN = "test-token"
# Where the sample's objects are on frame 0 (its prompts.json boxes), XYXY.
BOXES = {1: (401, 142, 519, 263), 2: (63, 265, 109, 314), 3: (538, 32, 621, 114)}


def truth(frame: int, object_id: int) -> np.ndarray:
    """The sample's ground-truth mask of one object, ``(H, W)`` bool."""
    labels = np.array(Image.open(SAMPLE / "ground_truth" / f"{frame:05d}.png"))
    return labels == object_id


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def centre(object_id: int) -> tuple[float, float]:
    x0, y0, x1, y1 = BOXES[object_id]
    return (x0 + x1) / 2, (y0 + y1) / 2


def unpack(b64: str, shape: tuple[int, int]) -> np.ndarray:
    """A mask or label map as the API sends it (base64 of deflated uint8)."""
    return np.frombuffer(zlib.decompress(base64.b64decode(b64)), np.uint8).reshape(shape)


def wait_job(client, timeout: float = 120.0) -> dict:
    """Poll the progress until the job ends; return the last progress."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = client.get("/api/progress").json()["progress"]
        if progress["state"] != "running":
            return progress
        time.sleep(0.05)
    raise AssertionError("the studio job did not end in time")
