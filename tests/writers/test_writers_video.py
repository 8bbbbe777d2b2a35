"""Round trips of the video writers, checked with plain PyAV (not our reader)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import av
import numpy as np
import pytest
from writer_frames import TIMESTAMPS, decode, frame_results, image, object_mask, plane

from segany_video.errors import WriterError
from segany_video.results import FrameResult, ObjectResult, TrackState, mask_box
from segany_video.writers import video_encoder
from segany_video.writers.cutout import CutoutWriter, rgba_cutout
from segany_video.writers.mask_video import MaskVideoWriter
from segany_video.writers.overlay import OverlayWriter, draw_overlay, slot_colour

FPS = Fraction(30)


def _write_masks(path, codec, width=64, height=48, timestamps=TIMESTAMPS):
    masks = [object_mask(1, i, width, height) for i in range(len(timestamps))]
    with MaskVideoWriter(path, width, height, FPS, codec=codec, object_id=1) as writer:
        for mask, t in zip(masks, timestamps, strict=True):
            writer.write(mask, t)
    return masks


@pytest.mark.parametrize(("width", "height"), [(64, 48), (63, 47)])
def test_ffv1_mask_video_is_bit_exact_with_source_timestamps(tmp_path, width, height):
    path = tmp_path / "1.mkv"
    masks = _write_masks(path, "ffv1", width, height)
    frames, times = decode(path)
    assert len(frames) == len(masks)
    np.testing.assert_allclose(times, TIMESTAMPS, atol=1e-3)
    for frame, mask in zip(frames, masks, strict=True):
        assert frame.format.name == "gray"
        expected = np.where(mask, 255, 0).astype(np.uint8)
        np.testing.assert_array_equal(frame.to_ndarray(), expected)


@pytest.mark.parametrize(("width", "height"), [(64, 48), (63, 47)])
def test_h264_mask_video_keeps_count_timestamps_and_shape(tmp_path, width, height):
    path = tmp_path / "1.mp4"
    masks = _write_masks(path, "h264", width, height)
    frames, times = decode(path)
    assert len(frames) == len(masks)
    np.testing.assert_allclose(times, TIMESTAMPS, atol=1e-3)
    for frame, mask in zip(frames, masks, strict=True):
        luma = plane(frame, 0)[:height, :width]  # odd sizes are padded by one row/column
        agree = (luma > 127) == mask
        assert agree.mean() > 0.98


def test_timestamps_that_do_not_advance_are_nudged_forward(tmp_path):
    path = tmp_path / "1.mkv"
    _write_masks(path, "ffv1", timestamps=[0.0, 0.0004, 0.1, 0.1])
    _, times = decode(path)
    assert len(times) == 4
    np.testing.assert_allclose(times, [0.0, 0.001, 0.1, 0.101], atol=1e-9)


@pytest.mark.parametrize(("width", "height"), [(64, 48), (63, 47)])
def test_prores_cutout_alpha_equals_mask_and_colour_is_kept(tmp_path, width, height):
    path = tmp_path / "1.mov"
    results = frame_results([1], width=width, height=height)
    with CutoutWriter(path, width, height, FPS, "prores", object_id=1) as writer:
        for r in results:
            writer.write(image(r.index, width, height), r.objects[1].mask, r.timestamp)
    frames, times = decode(path)
    assert len(frames) == len(results)
    np.testing.assert_allclose(times, TIMESTAMPS, atol=1e-3)
    for frame, r in zip(frames, results, strict=True):
        assert frame.format.name.startswith("yuva444p")
        alpha = plane(frame, 3).astype(np.int64)
        full = (1 << int(frame.format.name[len("yuva444p") :].removesuffix("le"))) - 1
        # ProRes keeps alpha exactly: 0 or full scale (1023 for 10-bit, 4095 when decoded 12-bit)
        np.testing.assert_array_equal(alpha, np.where(r.objects[1].mask, full, 0))
        rgb = frame.to_ndarray(format="rgb24").astype(int)
        inside = r.objects[1].mask
        assert np.abs(rgb[inside] - image(r.index, width, height)[inside]).mean() < 4


@pytest.mark.parametrize(("width", "height"), [(64, 48), (63, 47)])
def test_vp9_cutout_alpha_matches_mask_within_tolerance(tmp_path, width, height):
    path = tmp_path / "1.webm"
    results = frame_results([1], width=width, height=height)
    with CutoutWriter(path, width, height, FPS, "vp9", object_id=1) as writer:
        for r in results:
            writer.write(image(r.index, width, height), r.objects[1].mask, r.timestamp)
    frames, times = decode(path, decoder="libvpx-vp9")
    assert len(frames) == len(results)
    np.testing.assert_allclose(times, TIMESTAMPS, atol=1e-3)
    for frame, r in zip(frames, results, strict=True):
        assert frame.format.name == "yuva420p"
        alpha = plane(frame, 3).astype(int)
        expected = np.where(r.objects[1].mask, 255, 0)
        assert ((alpha > 127) == r.objects[1].mask).mean() > 0.99
        assert np.abs(alpha - expected).mean() < 8


def test_rgba_cutout_clears_everything_outside_the_mask():
    rgb = image(3)
    mask = object_mask(1, 3)
    rgba = rgba_cutout(rgb, mask)
    np.testing.assert_array_equal(rgba[mask, :3], rgb[mask])
    assert (rgba[~mask] == 0).all()
    assert (rgba[mask, 3] == 255).all()


@pytest.mark.parametrize("codec", ["prores_ks", "libvpx-vp9", "ffv1"])
def test_missing_encoder_is_a_clear_error_not_a_silent_swap(tmp_path, monkeypatch, codec):
    monkeypatch.setattr(video_encoder.av, "codecs_available", set(av.codecs_available) - {codec})
    kind = {"prores_ks": "prores", "libvpx-vp9": "vp9"}.get(codec)
    with pytest.raises(WriterError, match=codec):
        if kind:
            CutoutWriter(tmp_path / "x.mov", 64, 48, FPS, kind)
        else:
            MaskVideoWriter(tmp_path / "x.mkv", 64, 48, FPS)
    assert list(tmp_path.iterdir()) == []


def test_overlay_has_every_frame_and_tints_objects_in_their_slot_colour(tmp_path):
    ids = ["left", 7]
    results = frame_results(ids)
    path = tmp_path / "overlay.mp4"
    with OverlayWriter(path, 64, 48, FPS, ids, opacity=0.5) as writer:
        for r in results:
            writer.write(image(r.index), r)
    frames, times = decode(path)
    assert len(frames) == len(results)
    np.testing.assert_allclose(times, TIMESTAMPS, atol=1e-3)


def _write_overlay(path):
    ids = ["left", 7]
    with OverlayWriter(path, 64, 48, FPS, ids) as writer:
        for r in frame_results(ids):
            writer.write(image(r.index), r)


@pytest.mark.parametrize(
    "write", [_write_overlay, lambda path: _write_masks(path, "h264")], ids=["overlay", "masks"]
)
def test_h264_outputs_do_not_depend_on_the_simd_x264_picks(tmp_path, monkeypatch, write):
    """The same frames give the same file on every run and CPU, as ``--resume`` promises.

    x264's SIMD macroblock-tree kernels differ from its C code (the AVX-512 ones even from run
    to run), so a file written as shipped equals one written with x264's assembly switched off
    only when the writers ask x264 for its CPU-independent kernels.
    """
    shipped, plain_c = tmp_path / "as_shipped.mp4", tmp_path / "plain_c.mp4"
    write(shipped)
    open_encoder = video_encoder.VideoEncoder.__init__

    def open_plain_c(self, path, width, height, fps, spec, purpose):
        params = ":".join(p for p in (spec.options.get("x264-params"), "asm=0") if p)
        spec = dataclasses.replace(spec, options={**spec.options, "x264-params": params})
        open_encoder(self, path, width, height, fps, spec, purpose)

    monkeypatch.setattr(video_encoder.VideoEncoder, "__init__", open_plain_c)
    write(plain_c)
    assert shipped.read_bytes() == plain_c.read_bytes()


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("1.mkv", lambda path: _write_masks(path, "ffv1")),
        ("1.mp4", lambda path: _write_masks(path, "h264")),
        ("overlay.mp4", _write_overlay),
    ],
)
def test_writing_the_same_frames_twice_gives_the_same_bytes(tmp_path, name, write):
    # Matroska writes random segment/track ids into its header unless asked to be bit-exact.
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write(first / name)
    write(second / name)
    assert (first / name).read_bytes() == (second / name).read_bytes()


def test_overlay_drawing_blends_slot_colour_inside_and_leaves_background():
    ids = ["left", 7]
    height, width = 240, 320
    masks = {oid: np.zeros((height, width), bool) for oid in ids}
    masks["left"][40:140, 20:120] = True
    masks[7][100:200, 180:300] = True
    objects = {
        oid: ObjectResult(oid, m, mask_box(m), 0.8, TrackState.TRACKED) for oid, m in masks.items()
    }
    result = FrameResult(0, 0.0, objects)
    rgb = image(0, width, height)
    drawn = draw_overlay(rgb, result, ids, opacity=0.5)
    for slot, oid in enumerate(ids, start=1):
        # The centre is far from outline, box and label: exactly the 50/50 blend.
        ys, xs = np.nonzero(masks[oid])
        y, x = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
        expected = (rgb[y, x] * 0.5 + np.array(slot_colour(slot)) * 0.5 + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(drawn[y, x], expected)
    changed = (drawn != rgb).any(axis=-1)
    background = ~(masks["left"] | masks[7])
    assert changed[masks[7]].all()
    assert changed[background].mean() < 0.1  # only outlines, boxes and labels
    assert not changed[230:, :10].any()  # a far corner is untouched


def test_slot_colours_are_stable_and_distinct():
    colours = [slot_colour(s) for s in range(1, 11)]
    assert colours == [slot_colour(s) for s in range(1, 11)]
    assert len(set(colours)) == 10
