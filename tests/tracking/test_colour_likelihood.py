"""Colours learned on a keyframe by boosted trees (:mod:`segany_video.tracking.colour_likelihood`)
against the histogram odds they join: what they part that the histogram cannot, what they leave
to it, and that a track keeps them across a snapshot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segany_video.models.classic import build_classic
from segany_video.runtime.encoded import encode_sequentially
from segany_video.tracking.appearance import Appearance, ColourIndex
from segany_video.tracking.boxes import tight_box
from segany_video.tracking.colour_likelihood import (
    LEVELS,
    ColourLikelihood,
    _cells_of_bins,
    mean_log_odds,
    table_index,
)
from segany_video.tracking.prompt_builder import colour_posterior
from segany_video.tracking.prompts import ResolvedKeyframe
from segany_video.tracking.propagator import Propagator
from segany_video.tracking.settings import TrackerSettings
from segany_video.tracking.track import Track

H, W = 160, 200  # source frame; the colours are measured at half this size


def keyframe(object_l: int, background_l: int):
    """A half-resolution Lab frame: an object of lightness ``object_l`` to ``+3`` on a
    background of lightness ``background_l`` to ``+3``, of the same hue; and its mask."""
    rng = np.random.default_rng(0)
    lab = np.empty((H // 2, W // 2, 3), np.uint8)
    lab[:] = (background_l, 150, 150)
    lab[20:60, 30:70] = (object_l, 150, 150)
    lab[..., 0] += rng.integers(0, 4, size=lab.shape[:2], dtype=np.uint8)
    mask = np.zeros((H, W), bool)
    mask[40:120, 60:140] = True
    return lab, mask


def fitted(lab, mask):
    colours = ColourIndex(np.zeros((H, W, 3), np.uint8), 16, lab)
    box = tight_box(mask)
    return (
        colours,
        Appearance.anchor_odds(colours, mask, box),
        ColourLikelihood.fit(lab, colours, mask, box),
    )


def test_trees_part_two_shades_that_share_a_histogram_bin():
    # Lightness 100-103 on the object and 106-109 around it: one 16-level bin (96-111) holds
    # both, so the histogram says 0.5 for each; the trees see them apart.
    lab, mask = keyframe(100, 106)
    colours, odds, learned = fitted(lab, mask)
    assert learned is not None
    plain = colours.region(0, 0, W, H, odds)
    joined = learned.region(table_index(lab), colours, odds, 0, 0, W, H)
    assert np.allclose(plain, 0.5, atol=0.01)
    assert joined[mask].min() > 0.8
    assert joined[~mask].max() < 0.2


def test_shades_in_bins_of_their_own_keep_the_histograms_verdict():
    # 64 levels apart: the histogram already knows, and the trees agree.
    lab, mask = keyframe(100, 164)
    colours, odds, learned = fitted(lab, mask)
    joined = learned.region(table_index(lab), colours, odds, 0, 0, W, H)
    plain = colours.region(0, 0, W, H, np.clip(odds, 0.02, 0.98))
    assert plain[mask].min() > 0.95 and joined[mask].min() > 0.95
    assert joined[100, 40] < 0.05  # in the band


def test_a_colour_the_keyframe_never_showed_keeps_the_histograms_answer():
    lab, mask = keyframe(100, 164)
    _, odds, learned = fitted(lab, mask)
    later = lab.copy()
    later[30:50, 40:60] = (100, 60, 200)  # a hue seen neither on the object nor around it
    later_colours = ColourIndex(np.zeros((H, W, 3), np.uint8), 16, later)
    new_bin = later_colours.coarse_bins[40, 50]
    assert odds[new_bin] == pytest.approx(0.5) and not learned.seen[new_bin]
    joined = learned.region(table_index(later), later_colours, odds, 0, 0, W, H)
    assert np.all(joined[60:100, 80:120] == pytest.approx(0.5))
    # Once the histogram has an answer there (background seen around an object found
    # again), that answer is kept.
    settled = odds.copy()
    settled[new_bin] = 0.1
    joined = learned.region(table_index(later), later_colours, settled, 0, 0, W, H)
    assert np.all(joined[60:100, 80:120] == pytest.approx(0.1))


def test_crops_read_the_same_values_as_the_whole_frame():
    lab, mask = keyframe(100, 106)
    colours, odds, learned = fitted(lab, mask)
    cells = table_index(lab)
    whole = learned.region(cells, colours, odds, 0, 0, W, H)
    for x0, y0, x1, y1 in ((33, 17, 151, 120), (0, 1, 7, 9), (60, 40, 61, 41)):
        assert np.array_equal(
            learned.region(cells, colours, odds, x0, y0, x1, y1), whole[y0:y1, x0:x1]
        )


def test_the_colour_prior_follows_the_learned_likelihood():
    lab, mask = keyframe(100, 106)
    colours, odds, learned = fitted(lab, mask)
    warped = np.zeros((H, W), np.float32)
    warped[30:130, 50:150] = 1.0  # motion says: the object plus some of its band
    plain = colour_posterior(warped, odds, colours, blur=0.1)
    joined = colour_posterior(
        warped, odds, colours, blur=0.1, learned=learned, cells=table_index(lab)
    )
    band_inside = (warped > 0) & ~mask
    # The histogram cannot tell the band from the object (the posterior is the blurred warp);
    # the learned colours can: the band sinks, the object rises.
    assert joined[band_inside].mean() < plain[band_inside].mean() - 0.25
    assert joined[mask].min() > plain[mask].min()


def test_mean_log_odds():
    p, q = np.array([0.9, 0.3, 0.7]), np.array([0.5, 0.3, 0.2])
    logit = np.log(p / (1 - p)) / 2 + np.log(q / (1 - q)) / 2
    assert np.allclose(mean_log_odds(p, q), 1 / (1 + np.exp(-logit)))


def test_too_few_pixels_learn_nothing_and_fits_repeat():
    lab, mask = keyframe(100, 164)
    tiny = np.zeros_like(mask)
    tiny[80:86, 100:106] = True  # 9 half-resolution pixels
    colours = ColourIndex(np.zeros((H, W, 3), np.uint8), 16, lab)
    assert ColourLikelihood.fit(lab, colours, tiny, tight_box(tiny)) is None
    first, second = fitted(lab, mask)[2], fitted(lab, mask)[2]
    assert np.array_equal(first.table, second.table) and np.array_equal(first.seen, second.seen)


def _moving_square(index: int):
    image = np.full((H, W, 3), (40, 120, 40), np.uint8)
    image[::8] = (60, 140, 60)  # some texture for the flow
    mask = np.zeros((H, W), bool)
    mask[50:100, 40 + 3 * index : 90 + 3 * index] = True
    image[mask] = (200, 60, 50)
    return image, mask


@pytest.mark.parametrize("learned_colour", [True, False])
def test_a_keyframe_trains_the_colours_and_a_snapshot_keeps_them(learned_colour):
    model = build_classic()
    frames = [_moving_square(i) for i in range(8)]
    settings = TrackerSettings(learned_colour=learned_colour)
    keyframes = {0: [(0, ResolvedKeyframe(0, None, None, None, frames[0][1]))]}
    encoded = list(encode_sequentially(model, ((i, i / 25, f[0]) for i, f in enumerate(frames))))
    whole = Propagator(model, [1], keyframes, settings)
    masks = [whole.step(frame)[0].mask for frame in encoded]
    assert (whole.tracks[0].learned is not None) == learned_colour
    first = Propagator(model, [1], keyframes, settings)
    for frame in encoded[:4]:
        first.step(frame)
    resumed = Propagator(model, [1], keyframes, settings)
    resumed.restore(first.snapshot())
    if learned_colour:
        assert np.array_equal(resumed.tracks[0].learned.table, first.tracks[0].learned.table)
        assert np.array_equal(resumed.tracks[0].learned.seen, first.tracks[0].learned.seen)
        # Only the cells the trees were read on travel: a small part of the table.
        kept = first.snapshot()["tracks"][0]["learned"]["values"]
        assert 0 < len(kept) < 0.1 * len(first.tracks[0].learned.table)
    for frame, mask in zip(encoded[4:], masks[4:], strict=True):
        assert np.array_equal(resumed.step(frame)[0].mask, mask)


def test_a_track_snapshot_without_learned_colours_restores_none():
    track = Track(1)
    data = track.snapshot()
    del data["learned"]  # a snapshot from before learned colours
    assert Track.restore(data, torch.device("cpu")).learned is None


@pytest.mark.parametrize("n_bins", [16, 12])
def test_the_trees_are_read_on_every_cell_a_seen_colour_can_fall_in_and_no_other(n_bins):
    rng = np.random.default_rng(n_bins)
    seen = np.zeros(n_bins**3, bool)
    seen[rng.choice(n_bins**3, n_bins**3 // 5, replace=False)] = True
    needed = _cells_of_bins(seen, n_bins)
    levels = (np.arange(256) * n_bins) >> 8  # ColourIndex's binning of one channel
    width = 256 // LEVELS

    def holds_a_seen_colour(cell: int) -> bool:
        corner = np.array(np.unravel_index(cell, (LEVELS,) * 3)) * width
        light, a, b = np.meshgrid(*(levels[c : c + width] for c in corner), indexing="ij")
        return bool(seen[(light * n_bins + a) * n_bins + b].any())

    for cell in rng.choice(LEVELS**3, 3000, replace=False):
        assert needed[cell] == holds_a_seen_colour(cell)
