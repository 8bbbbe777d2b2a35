"""The tracker's settings: one frozen dataclass, validated on construction."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from segany_video.errors import ConfigError
from segany_video.settings_mapping import checked_fields


@dataclass(frozen=True)
class TrackerSettings:
    """How objects are propagated, matched, lost and found.

    Attributes:
        flow_scale: frames are downscaled by this factor before DIS optical flow (0.5 = half
            size); smaller is faster and coarser (the "fast" preset loses fast motion).
        flow_min_side: ...but the downscaled frame keeps at least this many pixels on its
            shorter side (never more than the source): small videos keep their detail.
        flow_preset: OpenCV DIS preset, "ultrafast", "fast" or "medium".
        positive_points: positive points per object placed at distance-transform peaks of the
            warped mask (0 disables them; the box and dense prior then carry the prompt).
        negative_points: at most this many negative points, one per nearby other object.
        box_padding: the warped mask's box is grown by this fraction of its size on each side.
        colour_prior: sharpen the warped mask with the object's keyframe colour model (a
            per-pixel Bayes posterior) before prompting; this stops flow drift onto background.
        learned_colour: that colour model's histogram odds joined with boosted trees fitted to
            the same keyframe pixels, which part object from background in colour space
            more finely than the histogram's bins (see :mod:`.colour_likelihood`).
        prior_blur: motion uncertainty of that prior: blur radius as a fraction of the object's
            ``sqrt(area)``, at most.
        prior_blur_motion: the blur radius is at most this many times the object's motion
            against its surroundings (98th percentile of its flow cells, source pixels), and
            at least twice ``motion_sigma``: the flow warps the outline of an object at rest
            against its surroundings well, and a wide blur there hands look-alike background
            (a boat's reflection) to colour. Not while the object comes back into view, which
            needs room to regrow. 0 = always ``prior_blur``.
        motion_confidence: weigh that prior by motion as well: around an object that moves
            against its surroundings, pixels that move as the surroundings do are background
            with at most this confidence (0.5 = off; see :mod:`.motion_cue`).
        motion_sigma: flow noise in source pixels below which two motions are not told apart.
        rigid_motion: carry an object that moves as one piece (a boat, a car) by one similarity
            transform fitted to points tracked inside it, where that explains its pixels better
            than the flow (see ``tracking/rigid.py``); its prior is then blurred only by the
            flow's noise, since the transform carries its outline exactly.
        use_dense_prior: pass the warped previous mask (and low-res logits when the engine has
            them) as the dense prompt.
        max_growth: a followed object's new mask is cut to within this fraction of its
            ``sqrt(area)`` of where motion expected it (0 = no limit); stops segmenter leaks.
        max_gap: a followed object's parts further than this fraction of its body's
            ``sqrt(area)`` from its largest part are dropped (0 = keep all); stops blobs that
            broke off a leak from being carried along for the rest of the video. Parts that
            move as the largest part does, against the surroundings, are kept at any distance.
        hidden_prior: prior given to a part the object lost lately (behind a post, a tree) where
            it comes back into view: carried with the body's motion, it moves with the body
            again (see ``tracking/hidden.py``). 0 = parts out of sight are forgotten.
        gate: a candidate whose matching cost exceeds this is never assigned (cost range 0..~2).
        min_iou: a tracked object's candidate must overlap its predicted mask at least this much.
        iou_weight, quality_weight, appearance_weight: weights of ``1 - IoU`` with the predicted
            mask, ``1 - predicted quality`` and the appearance distance in the matching cost.
        iou_saturation: IoU with the predicted mask above which candidates count as agreeing
            with motion equally well (so the prediction echoed back does not always win).
        rank_weight: cost per step down the engine's own candidate order (its first choice
            costs nothing, its last ``rank_weight``); it decides among agreeing candidates.
        min_area_fraction: a track whose visible area falls under this fraction of its reference
            area (its area when last fully seen) is lost (occluded or out of the frame).
        appearance_gate: a lost object is re-acquired only by a candidate whose colour
            distance (Hellinger, 0..1) to the object is below this.
        follow_appearance_gate: a followed object's candidate must be at least this close in
            colour (Hellinger) to the object; looser than ``appearance_gate`` because the
            object is where motion predicts it.
        appearance_rate: exponential update rate of the appearance model on confident frames.
        search_start: the search window of a lost object starts at this multiple of its last
            box size, and grows by ``search_growth`` per lost frame.
        search_growth: widening of the search window per lost frame (in box sizes).
        search_speed: ...and per lost frame by this many times the object's speed when it was
            lost, on each side (a hidden object keeps moving, in any direction).
        refind_area_ratio: a lost object is handed back only to a candidate within this factor
            of its reference area, larger or smaller (colour alone finds look-alikes of any
            size; the object keeps its own).
        score_colour_power: a followed object's score is the engine's quality times its colour
            agreement with its keyframe, ``(1 - Hellinger distance) ** score_colour_power``,
            when the user drew that keyframe's mask (0 = quality alone): a mask that slid onto
            something else admits it.
        velocity_damping: a lost object's predicted velocity is multiplied by this per frame.
        doubt_score: a tracked object whose score stays below this, and below ``doubt_ratio``
            x its usual score, for more than ``doubt_frames`` frames in a row is declared lost
            (0 = never): its mask has most likely slid onto something else, and a missing mask
            is better than a wrong one.
        doubt_ratio: see ``doubt_score``; how far under its usual score an object must fall.
        doubt_frames: how many such frames in a row are tolerated (a brief blur or occlusion).
        max_lost_frames: after this many lost frames the object is no longer searched for
            (None = search until the end of the video).
        refill_frames: once an object lost for at most this many frames is found again, it is
            tracked backward over them (0 = off; needs a source that can be read again).
            Results are held back while an object is lost, up to this many frames (their
            images too, where outputs need them): about a second of video.
        prior_bins: bins per Lab channel of the keyframe colour model behind the prior (fine,
            to separate an object from similar surroundings).
        appearance_bins: bins per Lab channel of the colour model used to match, search and
            resolve overlaps (coarse, so small objects give stable histograms).
        mode: "video" tracks through SAM 2's memory (SAM 2 weights only), "image" runs the
            engine per frame with propagated prompts, "auto" picks video for SAM 2 weights.
        fill_hole_area: SAM 2 video mode: background holes up to this many low-res pixels are
            filled (what Meta's predictor does with its CUDA extension; 0 = off).
        non_overlap: SAM 2 video mode: each pixel goes only to its highest-scoring object.
        corrections_as_conditioning: SAM 2 video mode: a later keyframe of a tracked object is
            kept as a conditioning frame for the rest of the video (else as a recent memory).
    """

    flow_scale: float = 0.35
    flow_preset: str = "medium"
    flow_min_side: int = 64
    positive_points: int = 3
    negative_points: int = 2
    box_padding: float = 0.1
    colour_prior: bool = True
    learned_colour: bool = True
    prior_blur: float = 0.2
    prior_blur_motion: float = 4.0
    motion_confidence: float = 0.9
    motion_sigma: float = 1.5
    rigid_motion: bool = True
    use_dense_prior: bool = True
    max_growth: float = 0.05
    max_gap: float = 0.1
    hidden_prior: float = 0.9
    gate: float = 1.2
    min_iou: float = 0.1
    iou_weight: float = 1.0
    quality_weight: float = 0.2
    appearance_weight: float = 0.5
    iou_saturation: float = 0.96
    rank_weight: float = 0.05
    min_area_fraction: float = 0.08
    appearance_gate: float = 0.45
    follow_appearance_gate: float = 0.7
    appearance_rate: float = 0.1
    search_start: float = 1.5
    search_growth: float = 0.25
    search_speed: float = 1.0
    refind_area_ratio: float = 4.0
    score_colour_power: float = 2.0
    velocity_damping: float = 0.9
    max_lost_frames: int | None = None
    refill_frames: int = 30
    doubt_score: float = 0.15
    doubt_ratio: float = 0.4
    doubt_frames: int = 2
    prior_bins: int = 16
    appearance_bins: int = 8
    mode: str = "auto"
    fill_hole_area: int = 8
    non_overlap: bool = False
    corrections_as_conditioning: bool = True

    def __post_init__(self) -> None:
        _check_range("flow_scale", self.flow_scale, 0.05, 1.0)
        if self.flow_preset not in ("ultrafast", "fast", "medium"):
            raise ConfigError(
                f"tracker flow_preset: expected 'ultrafast', 'fast' or 'medium', "
                f"got {self.flow_preset!r}"
            )
        _check_range("flow_min_side", self.flow_min_side, 0, 10_000)
        _check_range("positive_points", self.positive_points, 0, 16)
        _check_range("negative_points", self.negative_points, 0, 16)
        _check_range("box_padding", self.box_padding, 0.0, 2.0)
        for name in ("colour_prior", "learned_colour", "rigid_motion", "use_dense_prior"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"tracker {name}: expected true or false, got {getattr(self, name)!r}"
                )
        _check_range("prior_blur", self.prior_blur, 0.0, 2.0)
        _check_range("prior_blur_motion", self.prior_blur_motion, 0.0, 100.0)
        _check_range("motion_confidence", self.motion_confidence, 0.5, 0.99)
        _check_range("motion_sigma", self.motion_sigma, 0.1, 20.0)
        _check_range("max_growth", self.max_growth, 0.0, 10.0)
        _check_range("max_gap", self.max_gap, 0.0, 10.0)
        _check_range("hidden_prior", self.hidden_prior, 0.0, 1.0)
        _check_range("gate", self.gate, 0.0, 10.0)
        _check_range("min_iou", self.min_iou, 0.0, 1.0)
        for name in ("iou_weight", "quality_weight", "appearance_weight", "rank_weight"):
            _check_range(name, getattr(self, name), 0.0, 10.0)
        _check_range("iou_saturation", self.iou_saturation, 0.01, 1.0)
        _check_range("min_area_fraction", self.min_area_fraction, 0.0, 1.0)
        _check_range("appearance_gate", self.appearance_gate, 0.0, 1.0)
        _check_range("follow_appearance_gate", self.follow_appearance_gate, 0.0, 1.0)
        _check_range("appearance_rate", self.appearance_rate, 0.0, 1.0)
        _check_range("search_start", self.search_start, 0.5, 20.0)
        _check_range("search_growth", self.search_growth, 0.0, 5.0)
        _check_range("search_speed", self.search_speed, 0.0, 10.0)
        _check_range("refind_area_ratio", self.refind_area_ratio, 1.0, 1000.0)
        _check_range("score_colour_power", self.score_colour_power, 0.0, 10.0)
        _check_range("velocity_damping", self.velocity_damping, 0.0, 1.0)
        _check_range("doubt_score", self.doubt_score, 0.0, 1.0)
        _check_range("doubt_ratio", self.doubt_ratio, 0.0, 1.0)
        _check_range("doubt_frames", self.doubt_frames, 0, 10_000)
        if self.max_lost_frames is not None:
            _check_range("max_lost_frames", self.max_lost_frames, 0, 10**9)
        _check_range("refill_frames", self.refill_frames, 0, 10_000)
        _check_range("prior_bins", self.prior_bins, 2, 32)
        _check_range("appearance_bins", self.appearance_bins, 2, 32)
        if self.mode not in ("auto", "image", "video"):
            raise ConfigError(
                f"tracker mode: expected 'auto', 'image' or 'video', got {self.mode!r}"
            )
        _check_range("fill_hole_area", self.fill_hole_area, 0, 10**6)
        for name in ("non_overlap", "corrections_as_conditioning"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"tracker {name}: expected true or false, got {getattr(self, name)!r}"
                )

    @classmethod
    def from_dict(cls, d: Mapping) -> TrackerSettings:
        """Build from plain data; unknown keys raise :class:`ConfigError` listing the known ones."""
        return cls(**checked_fields(cls, d, "tracker"))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_range(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"tracker {name}: expected a number in [{low}, {high}], got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"tracker {name}: expected a value in [{low}, {high}], got {value}")
