"""Tiny test videos, built in code with PyAV once per session (a few kB each).

Every clip draws frames from :func:`pattern`, so tests can compare decoded frames against the
exact pixels that were encoded (lossless codecs) or against an independent raw PyAV decode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

WIDTH, HEIGHT = 64, 48
# Uneven gaps in milliseconds: variable frame rate that must survive into the timestamps.
VFR_GAPS_MS = (33, 33, 71, 20, 33, 100, 33, 40, 33, 33, 66, 33, 33, 17, 33, 50, 33, 33, 90)
VFR_PTS_MS = tuple(int(v) for v in np.concatenate([[0], np.cumsum(VFR_GAPS_MS)]))


def pattern(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB frame that differs per index and is not rotation-symmetric."""
    rng = np.random.default_rng(index)
    frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame[:8, :8] = (255, 0, 0)  # a marker in the top-left corner shows the orientation
    return frame


@dataclass(frozen=True)
class Clip:
    path: Path
    pts_ms: tuple[int, ...]
    frames: np.ndarray  # (N, H, W, 3) uint8 RGB as encoded (before any rotation metadata)


def write_clip(
    path: Path,
    pts_ms: Sequence[int],
    codec: str = "ffv1",
    pix_fmt: str = "bgr0",
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    rotation_ccw: int | None = None,
    metadata: dict[str, str] | None = None,
    noise_seed: int = 0,
) -> Clip:
    """Encode ``pattern`` frames with explicit PTS in a 1/1000 time base."""
    frames = np.zeros((len(pts_ms), HEIGHT, WIDTH, 3), np.uint8)
    for i in range(len(pts_ms)):
        frames[i] = pattern(i + noise_seed)
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=30, options=options or {})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, pix_fmt
        # Both time bases at 1 ms, else the encoder rounds our PTS to its 1/30 s grid.
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        if rotation_ccw is not None:
            stream.set_display_rotation(rotation_ccw)
        stream.metadata.update(metadata or {})
        for pts, rgb in zip(pts_ms, frames, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return Clip(path, tuple(pts_ms), frames)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def vfr_mkv(media_dir: Path) -> Clip:
    """20 lossless FFV1 frames (RGB) in Matroska at uneven timestamps."""
    return write_clip(media_dir / "vfr.mkv", VFR_PTS_MS)


@pytest.fixture(scope="session")
def h264_mp4(media_dir: Path) -> Clip:
    """40 H.264 frames with B-frames, a keyframe every 10 frames, uneven timestamps."""
    pts = [round(i * 33.3) + (7 if i % 4 == 0 else 0) for i in range(40)]
    return write_clip(
        media_dir / "gop.mp4",
        pts,
        codec="libx264",
        pix_fmt="yuv420p",
        options={"g": "10", "keyint_min": "10", "sc_threshold": "0", "bf": "2", "crf": "30"},
    )


@pytest.fixture(scope="session")
def rotated_mp4(media_dir: Path) -> Clip:
    """Lossless RGB H.264 whose display matrix says: turn 90° counter-clockwise to show."""
    return write_clip(
        media_dir / "rotated.mp4",
        list(range(0, 10 * 33, 33)),
        codec="libx264rgb",
        pix_fmt="rgb24",
        options={"qp": "0"},
        rotation_ccw=90,
    )


@pytest.fixture(scope="session")
def rotate_tag_mkv(media_dir: Path) -> Clip:
    """Lossless FFV1 with only the legacy ``rotate`` tag (90, clockwise), no display matrix."""
    return write_clip(media_dir / "tagged.mkv", [0, 33, 66], metadata={"rotate": "90"})


@pytest.fixture(scope="session")
def truncated_mp4(media_dir: Path) -> tuple[Clip, Path]:
    """A 40-frame MP4 (index at the front) and a copy cut to 60 % of its bytes."""
    full = write_clip(
        media_dir / "full.mp4",
        list(range(0, 40 * 33, 33)),
        codec="libx264",
        pix_fmt="yuv420p",
        container_options={"movflags": "faststart"},
    )
    cut = media_dir / "cut.mp4"
    data = full.path.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    return full, cut


@pytest.fixture(scope="session")
def truncated_mkv(media_dir: Path) -> tuple[Clip, Path]:
    """A 2 s, 60-frame Matroska file and a copy cut in half: it ends cleanly, only early."""
    full = write_clip(media_dir / "full.mkv", list(range(0, 60 * 33, 33)))
    cut = media_dir / "cut.mkv"
    data = full.path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    return full, cut


@pytest.fixture(scope="session")
def size_change_ts(media_dir: Path) -> Path:
    """MPEG-TS of 10 frames at 64x48 followed by 10 at 32x32 (two files joined byte-wise)."""
    parts = []
    for k, (width, height) in enumerate([(WIDTH, HEIGHT), (32, 32)]):
        part = media_dir / f"part{k}.ts"
        with av.open(str(part), "w", format="mpegts") as container:
            stream = container.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for i in range(10):
                frame = av.VideoFrame.from_ndarray(pattern(i, width, height), format="rgb24")
                frame.pts = i + 100 * k
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        parts.append(part.read_bytes())
    joined = media_dir / "size_change.ts"
    joined.write_bytes(b"".join(parts))
    return joined


@pytest.fixture(scope="session")
def bad_inputs(media_dir: Path) -> dict[str, Path]:
    """One file per kind of input that cannot be opened as a video."""
    text = media_dir / "notes.mp4"
    text.write_text("this is not a video, only text with a video suffix\n" * 20)

    audio = media_dir / "tone.wav"
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        tone = (np.sin(np.arange(8000) / 5.0) * 3000).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode())

    # An AVI whose codec tag no FFmpeg build knows: same bytes, fourcc replaced.
    avi = media_dir / "known.avi"
    write_clip(avi, list(range(5)), codec="mpeg4", pix_fmt="yuv420p")
    unknown = media_dir / "unknown_codec.avi"
    data = avi.read_bytes()
    assert data.count(b"FMP4") >= 1
    unknown.write_bytes(data.replace(b"FMP4", b"QZQZ"))

    # A Matroska header with a video track, cut just before the first cluster of frames.
    whole = write_clip(media_dir / "whole.mkv", list(range(5))).path.read_bytes()
    cluster = whole.find(bytes.fromhex("1F43B675"))
    assert cluster > 0
    empty = media_dir / "no_frames.mkv"
    empty.write_bytes(whole[:cluster])

    return {
        "missing": media_dir / "does_not_exist.mp4",
        "not_video": text,
        "audio_only": audio,
        "unsupported_codec": unknown,
        "zero_frames": empty,
    }


@pytest.fixture(scope="session")
def png_folder(media_dir: Path) -> tuple[Path, np.ndarray]:
    """12 PNGs named without zero padding (natural order differs from text order)."""
    folder = media_dir / "pngs"
    folder.mkdir()
    frames = np.stack([pattern(100 + i) for i in range(12)])
    for i, rgb in enumerate(frames):
        cv2.imwrite(str(folder / f"frame{i + 1}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (folder / "readme.txt").write_text("not an image; must be ignored")
    return folder, frames


@pytest.fixture(scope="session")
def mixed_size_folder(media_dir: Path) -> Path:
    folder = media_dir / "mixed"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), pattern(i))
    cv2.imwrite(str(folder / "003.png"), pattern(3, width=32, height=32))
    return folder


def raw_decode(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Independent oracle: frames ``(N, H, W, 3)`` and PTS seconds straight from PyAV."""
    with av.open(str(path)) as container:
        decoded = [(f.to_ndarray(format="rgb24"), float(f.time)) for f in container.decode(video=0)]
    frames = np.stack([f for f, _ in decoded])
    times = np.array([t for _, t in decoded])
    return frames, times - times[0]
