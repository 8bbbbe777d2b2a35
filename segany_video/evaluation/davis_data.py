"""Reading DAVIS-format folders: JPEG frames with a PNG annotation per frame, one sequence a folder.

Two layouts are understood:

- per sequence (as in ``../shared/data/davis2016-train``)::

      ROOT/<sequence>/JPEGImages/00000.jpg …
      ROOT/<sequence>/Annotations/00000.png …

- the official DAVIS release::

      ROOT/JPEGImages/480p/<sequence>/00000.jpg …
      ROOT/Annotations/480p/<sequence>/00000.png …

Annotations are 8-bit PNGs: grayscale 0/255 (DAVIS 2016, one object) or palette indices (DAVIS
2017, pixel = object number, 0 = background). Nothing is read until a frame or mask is asked for,
and nothing is kept: a sequence costs a list of paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segany_video.errors import FrameIndexError, VideoOpenError
from segany_video.writers.davis_png import decode_index_png

_FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
_LAYOUT_HELP = (
    "expected ROOT/<sequence>/JPEGImages/*.jpg with ROOT/<sequence>/Annotations/*.png, or "
    "ROOT/JPEGImages/<resolution>/<sequence>/ with ROOT/Annotations/<resolution>/<sequence>/"
)


def _frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _FRAME_SUFFIXES)


@dataclass(frozen=True)
class DavisSequence:
    """One DAVIS sequence: paths only; frames and masks are read on request.

    Attributes:
        name: the sequence's folder name.
        frame_paths: image files in frame order (sorted by name).
        mask_paths: the annotation of each frame, aligned with ``frame_paths``; None where a frame
            has no annotation (test splits annotate only the first frame).
    """

    name: str
    frame_paths: tuple[Path, ...]
    mask_paths: tuple[Path | None, ...]

    def __len__(self) -> int:
        return len(self.frame_paths)

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self.frame_paths):
            raise FrameIndexError(
                f"frame {index} is outside DAVIS sequence {self.name!r} "
                f"(frames 0..{len(self.frame_paths) - 1})"
            )

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``(H, W, 3)`` uint8 RGB.

        Raises:
            FrameIndexError: ``index`` outside the sequence.
            VideoOpenError: the image file is missing or unreadable.
        """
        self._check_index(index)
        path = self.frame_paths[index]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise VideoOpenError(f"cannot read frame {index} of {self.name!r}: {path}")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def labels(self, index: int) -> np.ndarray:
        """Annotation of frame ``index`` as stored: ``(H, W)`` uint8, 0 = background.

        Palette PNGs give object numbers; DAVIS 2016 grayscale PNGs give 0/255.

        Raises:
            FrameIndexError: ``index`` outside the sequence, or the frame has no annotation.
            VideoOpenError: the PNG is missing, corrupt or not 8-bit grayscale/palette.
        """
        self._check_index(index)
        path = self.mask_paths[index]
        if path is None:
            raise FrameIndexError(
                f"frame {index} of DAVIS sequence {self.name!r} has no annotation"
            )
        try:
            return decode_index_png(path.read_bytes())[0]
        except (OSError, ValueError) as exc:
            raise VideoOpenError(
                f"cannot read the annotation of frame {index} of {self.name!r} ({path}): {exc}; "
                "annotations must be 8-bit grayscale or palette PNGs"
            ) from exc

    def mask(self, index: int) -> np.ndarray:
        """Foreground of frame ``index`` (every object together): ``(H, W)`` bool, labels > 0."""
        return self.labels(index) > 0

    def every(self, stride: int) -> DavisSequence:
        """Frames 0, ``stride``, 2 x ``stride``, ... with their annotations: the same clip
        played ``stride`` times faster (each step spans ``stride`` frames of motion).

        Raises:
            ValueError: ``stride`` below 1.
        """
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        return DavisSequence(self.name, self.frame_paths[::stride], self.mask_paths[::stride])

    def frames(self) -> Iterator[np.ndarray]:
        """Yield every frame in order, one at a time."""
        for i in range(len(self)):
            yield self.frame(i)

    def masks(self) -> Iterator[np.ndarray]:
        """Yield every frame's foreground mask in order, one at a time."""
        for i in range(len(self)):
            yield self.mask(i)


def _layout(root: Path, resolution: str) -> tuple[Path, Path] | None:
    """``(frames_parent, annotations_parent)`` of the official layout, or None."""
    frames, annotations = root / "JPEGImages" / resolution, root / "Annotations" / resolution
    return (frames, annotations) if frames.is_dir() else None


def list_sequences(root: Path | str, resolution: str = "480p") -> list[str]:
    """Names of the sequences under a DAVIS-format folder, sorted.

    Args:
        root: the dataset folder (either layout, see the module docstring).
        resolution: resolution folder of the official layout (ignored by the other).

    Raises:
        VideoOpenError: ``root`` is missing or holds no DAVIS sequence.
    """
    root = Path(root)
    if not root.is_dir():
        raise VideoOpenError(f"DAVIS folder {root} does not exist or is not a folder")
    official = _layout(root, resolution)
    if official is not None:
        names = [p.name for p in official[0].iterdir() if p.is_dir()]
    else:
        names = [p.name for p in root.iterdir() if (p / "JPEGImages").is_dir()]
    if not names:
        raise VideoOpenError(f"{root} holds no DAVIS sequence: {_LAYOUT_HELP}")
    return sorted(names)


def open_sequence(root: Path | str, name: str, resolution: str = "480p") -> DavisSequence:
    """Index one sequence's frames and annotations (reads no pixels).

    Args:
        root: the dataset folder.
        name: the sequence's name (see :func:`list_sequences`).
        resolution: resolution folder of the official layout.

    Returns:
        The sequence; every frame is paired with ``Annotations/<same stem>.png`` when present.

    Raises:
        VideoOpenError: the sequence's folders are missing, it has no frames, or its first frame
            has no annotation (nothing to start tracking from).
    """
    root = Path(root)
    official = _layout(root, resolution)
    if official is not None:
        frame_dir, mask_dir = official[0] / name, official[1] / name
    else:
        frame_dir, mask_dir = root / name / "JPEGImages", root / name / "Annotations"
    if not frame_dir.is_dir():
        raise VideoOpenError(f"no DAVIS sequence {name!r} in {root}: {frame_dir} is missing")
    frames = _frame_files(frame_dir)
    if not frames:
        raise VideoOpenError(f"DAVIS sequence {name!r} has no images in {frame_dir}")
    if not mask_dir.is_dir():
        raise VideoOpenError(f"DAVIS sequence {name!r} has no annotation folder {mask_dir}")
    masks = tuple(
        (mask_dir / f"{p.stem}.png") if (mask_dir / f"{p.stem}.png").is_file() else None
        for p in frames
    )
    if masks[0] is None:
        raise VideoOpenError(
            f"DAVIS sequence {name!r}: the first frame {frames[0].name} has no annotation "
            f"{mask_dir / (frames[0].stem + '.png')}"
        )
    return DavisSequence(name=name, frame_paths=tuple(frames), mask_paths=masks)
