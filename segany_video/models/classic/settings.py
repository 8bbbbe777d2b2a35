"""Settings of the classic (weight-free) engine: one frozen dataclass, validated on construction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from segany_video.errors import ConfigError
from segany_video.settings_mapping import checked_fields


@dataclass(frozen=True)
class ClassicSettings:
    """How the classic engine segments one object.

    Attributes:
        work_pixels: pixel budget of the region the graph cut runs on; the region around the
            prompt is downscaled to at most this many pixels (speed is linear in it).
        iterations: grabCut iterations (colour-model re-estimation + min-cut rounds) of a
            cut from a mask prior or clicks.
        box_iterations: grabCut iterations of a tight box's cut when the engine falls back to
            grabCut there; fewer than ``iterations`` because the tight-box rounds re-fit the
            models again where the cut misses part of the box.
        box_smoothness: weight of the contrast-sensitive smoothness in the tight-box cut
            (grabCut's gamma, which grabCut fixes at 50 for full-resolution images; the cut runs
            at reduced resolution, where boundaries are shorter relative to areas).
        prior_smoothness: the same weight in the cut from a mask prior. Lower values follow
            a single frame more closely but let a track slide onto look-alike background while
            its object disappears behind another.
        prior_weight: weight of a mask prior's log-odds in the cut from it, beside the colour
            evidence (0 = the prior only shapes the trimap); a soft prior then keeps the cut
            near where motion puts the object instead of letting it follow look-alike colours.
        box_margin: background context around a box or mask prior, as a fraction of the
            object's longer side (plus ``context_px`` pixels).
        context_px: fixed extra context in source pixels around the prompt region.
        pin_rounds: rounds of the tight-box constraint: every row and column of a box must hold
            some foreground; uncrossed lines get their most object-like pixel pinned (0 = off).
        prior_sure_fg: erosion of a mask prior, as a fraction of the object's equivalent
            radius, that becomes sure foreground.
        prior_band: dilation of a mask prior, as a fraction of the object's equivalent radius,
            within which background is only probable; beyond it is sure background.
        click_radius: radius of the sure region under a click, as a fraction of the region side.
        click_scales: sides of the three square boxes tried around clicks when no box or
            mask is given, as fractions of the frame's shorter side (one candidate per scale).
        refine_radius: radius in source pixels of the guided filter that snaps the upsampled
            mask onto full-resolution edges (0 = plain bilinear upsampling).
        refine_eps: guided-filter regulariser (on intensities in [0, 1]); smaller follows
            edges more closely.
    """

    work_pixels: int = 30_000
    iterations: int = 4
    box_iterations: int = 2
    box_smoothness: float = 25.0
    prior_smoothness: float = 50.0
    prior_weight: float = 2.0
    box_margin: float = 0.1
    context_px: int = 8
    pin_rounds: int = 3
    prior_sure_fg: float = 0.1
    prior_band: float = 0.15
    click_radius: float = 0.02
    click_scales: tuple[float, ...] = (0.3, 0.55, 0.85)
    refine_radius: int = 4
    refine_eps: float = 1e-3

    def __post_init__(self) -> None:
        if self.work_pixels < 1024:
            raise ConfigError(f"work_pixels must be >= 1024, got {self.work_pixels}")
        for name in ("iterations", "box_iterations"):
            if not 1 <= getattr(self, name) <= 20:
                raise ConfigError(f"{name} must be in [1, 20], got {getattr(self, name)}")
        for name in ("box_margin", "prior_sure_fg", "prior_band", "click_radius"):
            value = getattr(self, name)
            if not 0.0 <= value <= 2.0:
                raise ConfigError(f"{name} must be in [0, 2], got {value}")
        if self.context_px < 0 or self.pin_rounds < 0 or self.refine_radius < 0:
            raise ConfigError(
                "context_px, pin_rounds and refine_radius must be >= 0, got "
                f"{self.context_px}, {self.pin_rounds}, {self.refine_radius}"
            )
        scales = tuple(float(s) for s in self.click_scales)
        if len(scales) != 3 or not all(0.0 < s <= 1.0 for s in scales):
            raise ConfigError(f"click_scales must be 3 fractions in (0, 1], got {scales}")
        object.__setattr__(self, "click_scales", scales)
        for name in ("box_smoothness", "prior_smoothness"):
            # The cut's integer capacities hold weights up to a few thousand.
            if not 0 < getattr(self, name) <= 1000:
                raise ConfigError(f"{name} must be in (0, 1000], got {getattr(self, name)}")
        if not 0.0 <= self.prior_weight <= 10.0:
            raise ConfigError(f"prior_weight must be in [0, 10], got {self.prior_weight}")
        if not self.refine_eps > 0:
            raise ConfigError(f"refine_eps must be > 0, got {self.refine_eps}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ClassicSettings:
        """Build from a plain mapping (a YAML section); unknown keys raise ConfigError."""
        values = checked_fields(cls, d, "classic engine")
        if "click_scales" in values:
            values["click_scales"] = tuple(values["click_scales"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"invalid classic engine settings: {exc}") from exc
