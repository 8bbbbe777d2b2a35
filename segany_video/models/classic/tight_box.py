"""What a tight box says about its object: every row and column of the box crosses it.

Following Lempitsky et al., "Image segmentation with a bounding box prior" (ICCV 2009), a cut
that leaves a line of a tight box empty has missed part of the object. Both cuts of the engine
measure how many lines their first answer crosses (a cut crossing few has failed outright) and
then pin, on each empty line, the pixel that looks most like the object as sure foreground
before cutting again ("pinpointing").
"""

from __future__ import annotations

import numpy as np

# Rows/columns this close to a box edge (fraction of the box side) are not forced to cross the
# object, so slightly loose boxes are tolerated.
PIN_SLACK = 0.03


def box_slices(box: np.ndarray) -> tuple[slice, slice]:
    """``(rows, cols)`` slices of an integer ``XYXY`` box (exclusive ends)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    return slice(y0, y1), slice(x0, x1)


def lines_crossed(foreground: np.ndarray, box: np.ndarray) -> float:
    """Fraction of a box's rows and columns (averaged) holding some foreground.

    Args:
        foreground: ``(h, w)`` bool.
        box: ``XYXY`` in the mask's pixels, exclusive ends.
    """
    inside = foreground[box_slices(box)]
    if inside.size == 0:
        return 0.0
    return 0.5 * float(inside.any(axis=1).mean() + inside.any(axis=0).mean())


def uncrossed_lines(foreground: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Box-relative indices of the rows and the columns without foreground, slack excluded."""
    inside = foreground[box_slices(box)]
    height, width = inside.shape
    slack_y, slack_x = round(PIN_SLACK * height), round(PIN_SLACK * width)
    rows = np.nonzero(~inside.any(axis=1))[0]
    cols = np.nonzero(~inside.any(axis=0))[0]
    rows = rows[(rows >= slack_y) & (rows < height - slack_y)]
    cols = cols[(cols >= slack_x) & (cols < width - slack_x)]
    return rows, cols


def pins(score: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The most object-like pixel of each given line.

    Args:
        score: ``(bh, bw)`` object-likeness over the box; ``-inf`` where a pin is not allowed.
        rows, cols: box-relative lines to pin.

    Returns:
        ``(ys, xs)`` box-relative pin positions (lines with nothing allowed get none).
    """
    ys, xs = [], []
    for row in rows:
        if np.isfinite(score[row]).any():
            ys.append(row)
            xs.append(int(np.argmax(score[row])))
    for col in cols:
        if np.isfinite(score[:, col]).any():
            ys.append(int(np.argmax(score[:, col])))
            xs.append(col)
    return np.array(ys, dtype=np.int64), np.array(xs, dtype=np.int64)
