"""One object's tracking state between frames, and its lossless snapshot."""

from __future__ import annotations

import numpy as np
import torch

from segany_video.results import TrackState
from segany_video.tracking.appearance import Appearance, hellinger
from segany_video.tracking.boxes import Box, as_xyxy, tight_box
from segany_video.tracking.colour_likelihood import ColourLikelihood
from segany_video.tracking.motion import ConstantVelocity


class Track:
    """What the tracker remembers about one object after the frame it last processed.

    Attributes:
        object_id: the user's id.
        state: state on the last processed frame.
        mask: ``(H, W)`` bool last visible mask (kept while lost, for the search), or None before
            the object's first keyframe.
        box: tight box of ``mask`` (None with it), so that its users read that crop only.
        area: pixels in ``mask``.
        score: quality of the last mask in ``[0, 1]``.
        appearance: colour model, or None before the first keyframe.
        motion: constant-velocity box model, or None before the first keyframe.
        reference_area: the object's area when last fully seen (pixels); a visible area far below
            it means occlusion or leaving the frame.
        lost_frames: consecutive frames the object has been lost.
        followed_frames: consecutive frames the object has been seen (prompted or tracked).
        low_res_logits: ``(256, 256)`` logits from the engine for the last mask, or None.
        occluder: id of the object this one disappeared behind (it moves with it while lost),
            or None.
        prompted_streak: the current run of followed frames began with a keyframe prompt.
        drawn_keyframe: the latest keyframe mask was drawn by the user (its colours are the
            object's for sure), not cut by the engine from a box or clicks.
        lost_speed: the object's speed (pixels per frame) when it was last lost; how fast the
            region where it may be widens while it stays lost.
        anchor_odds: ``(D,)`` float32 P(object | colour bin) measured on the latest keyframe
            (object versus a wide band around it); fixed between keyframes so it cannot drift.
        learned: the same keyframe's colours learned by boosted trees (see
            :mod:`.colour_likelihood`), or None.
        doubtful_frames: consecutive tracked frames whose score fell into doubt (see
            :meth:`follow`).
        score_level: the object's usual score since its latest keyframe (a slow average of its
            undoubted tracked frames; 0 before the first): footage and objects differ in how
            well any mask of them scores, so doubt is judged against it.
        amodal: ``(H, W)`` uint8 age map of the object's parts (see :mod:`.hidden`): its mask
            and the parts it lost lately, carried with its body; None while not followed.
    """

    def __init__(self, object_id: int | str) -> None:
        self.object_id = object_id
        self.state = TrackState.INACTIVE
        self.mask: np.ndarray | None = None
        self.box: Box | None = None
        self.area = 0.0
        self.score = 0.0
        self.appearance: Appearance | None = None
        self.motion: ConstantVelocity | None = None
        self.reference_area = 0.0
        self.lost_frames = 0
        self.followed_frames = 0
        self.low_res_logits: torch.Tensor | None = None
        self.anchor_odds: np.ndarray | None = None
        self.learned: ColourLikelihood | None = None
        self.occluder: int | str | None = None
        self.prompted_streak = False
        self.lost_speed = 0.0
        self.drawn_keyframe = False
        self.doubtful_frames = 0
        self.score_level = 0.0
        self.amodal: np.ndarray | None = None

    @property
    def is_followed(self) -> bool:
        """True when the object was visible on the last frame (prompted or tracked)."""
        return self.state in (TrackState.PROMPTED, TrackState.TRACKED)

    @property
    def regrowing(self) -> bool:
        """True while the object is coming back into view: found again in the last frames
        (not by a keyframe prompt, which shows it whole), or well under its usual size."""
        assert self.mask is not None
        just_found = self.followed_frames < 3 and not self.prompted_streak
        return just_found or self.area < 0.8 * self.reference_area

    def seed(
        self,
        mask: np.ndarray,
        score: float,
        appearance: Appearance,
        anchor_odds: np.ndarray,
        within: Box | None = None,
        drawn: bool = False,
        learned: ColourLikelihood | None = None,
    ) -> None:
        """Start or correct the track from a keyframe prompt (``within``: a box holding every
        pixel of ``mask``, None for the whole frame; ``drawn``: the mask is the user's own, not
        the engine's cut from a box or clicks; ``learned``: colours learned on this keyframe)."""
        self.anchor_odds = anchor_odds
        self.learned = learned
        self.drawn_keyframe = drawn
        self.doubtful_frames = 0
        self.score_level = 0.0
        self.prompted_streak = True
        self.state = TrackState.PROMPTED
        self._found(mask, score, within)
        assert self.box is not None, "a keyframe mask is never empty"
        velocity = None if self.motion is None else self.motion.velocity
        self.motion = ConstantVelocity(as_xyxy(self.box), velocity)
        self.appearance = appearance
        self.reference_area = self.area

    def follow(
        self,
        mask: np.ndarray,
        score: float,
        appearance: Appearance,
        rate: float,
        colour_gate: float,
        within: Box | None = None,
        colour_power: float = 0.0,
        doubt: float = 0.0,
        doubt_ratio: float = 0.0,
    ) -> None:
        """Accept the frame's matched mask; confident frames refresh the colour model.

        The object's score on this frame is the mask's quality times its colour agreement with
        the keyframe, ``(1 - Hellinger distance) ** colour_power``, when the user drew that
        keyframe's mask: a mask the engine finds well cut but whose colours are no longer the
        object's has most likely slid onto something else, and says so. A keyframe the engine
        cut from a box or clicks may itself hold background, so agreeing with its colours
        proves nothing; the quality alone is the score then.

        Args:
            mask: ``(H, W)`` bool.
            score: its quality in ``[0, 1]`` (the engine's own estimate).
            appearance: the colours measured under it.
            rate: update rate of the colour model.
            colour_gate: a mask whose colours are further than this (Hellinger) from the
                object's keyframe colours teaches the colour model nothing.
            within: as in :meth:`seed`.
            colour_power: weight of the colour agreement in the score (0 = quality alone).
            doubt: a score below this, and below ``doubt_ratio`` x :attr:`score_level`, counts
                towards :attr:`doubtful_frames`.
            doubt_ratio: see ``doubt``.
        """
        self._found(mask, score, within)
        assert self.box is not None and self.motion is not None and self.appearance is not None
        self.motion.observe(as_xyxy(self.box))
        # A mask can slide off a fast object onto the ground behind it (the flow loses it) and
        # keep its size and score for a few frames. Learning those colours makes the ground look
        # like the object: once the object is lost, the search then finds ground everywhere
        # instead of the object coming back. So only a mask that would pass as the object if it
        # were found anew (``colour_gate``, against the fixed keyframe colours, not the model
        # being taught) updates the model.
        distance = hellinger(appearance.foreground, self.appearance.keyframe)
        if self.area >= 0.7 * self.reference_area and score >= 0.5 and distance <= colour_gate:
            self.appearance.update(appearance, rate)
        if self.drawn_keyframe:
            self.score = score * (1.0 - distance) ** colour_power
        # Grows at once, shrinks slowly: a steady decline (moving away) is followed, a sudden
        # one (occlusion, leaving the frame) is measured against the old size.
        self.reference_area = max(self.area, 0.95 * self.reference_area + 0.05 * self.area)
        self.state = TrackState.TRACKED
        if self.score < doubt and self.score < doubt_ratio * self.score_level:
            self.doubtful_frames += 1
        else:
            self.doubtful_frames = 0
            level = self.score_level
            self.score_level = self.score if level == 0.0 else 0.9 * level + 0.1 * self.score

    def lose(self) -> None:
        """Mark the object lost on this frame (the propagator moves its box on)."""
        if self.state is not TrackState.LOST and self.motion is not None:
            self.lost_speed = float(np.hypot(*self.motion.velocity))
        self.state = TrackState.LOST
        self.amodal = None
        self.score = 0.0
        self.lost_frames += 1
        self.followed_frames = 0
        self.prompted_streak = False
        self.low_res_logits = None
        self.doubtful_frames = 0

    def _found(self, mask: np.ndarray, score: float, within: Box | None) -> None:
        self._set_mask(mask, within)
        self.score = score
        self.lost_frames = 0
        self.followed_frames += 1
        self.occluder = None

    def _set_mask(self, mask: np.ndarray, within: Box | None) -> None:
        self.mask = mask
        self.box = tight_box(mask, within)
        x0, y0, x1, y1 = self.box or (0, 0, 0, 0)
        self.area = float(np.count_nonzero(mask[y0:y1, x0:x1]))

    def snapshot(self) -> dict:
        """Plain data (numpy arrays and JSON values) that :meth:`restore` rebuilds exactly."""
        return {
            "object_id": self.object_id,
            "state": self.state.value,
            "mask_shape": None if self.mask is None else list(self.mask.shape),
            "mask_bits": None if self.mask is None else np.packbits(self.mask, axis=None),
            "score": self.score,
            "foreground": None if self.appearance is None else self.appearance.foreground.copy(),
            "background": None if self.appearance is None else self.appearance.background.copy(),
            "keyframe": None if self.appearance is None else self.appearance.keyframe.copy(),
            "box": None if self.motion is None else self.motion.box.copy(),
            "velocity": None if self.motion is None else self.motion.velocity.copy(),
            "reference_area": self.reference_area,
            "lost_frames": self.lost_frames,
            "followed_frames": self.followed_frames,
            "low_res_logits": None
            if self.low_res_logits is None
            else self.low_res_logits.detach().cpu().numpy().copy(),
            "anchor_odds": None if self.anchor_odds is None else self.anchor_odds.copy(),
            "learned": None if self.learned is None else self.learned.snapshot(),
            "occluder": self.occluder,
            "prompted_streak": self.prompted_streak,
            "lost_speed": self.lost_speed,
            "drawn_keyframe": self.drawn_keyframe,
            "doubtful_frames": self.doubtful_frames,
            "score_level": self.score_level,
            "amodal": None if self.amodal is None else self.amodal.copy(),
        }

    @classmethod
    def restore(cls, data: dict, device: torch.device) -> Track:
        track = cls(data["object_id"])
        track.state = TrackState(data["state"])
        if data["mask_bits"] is not None:
            shape = tuple(data["mask_shape"])
            bits = np.unpackbits(data["mask_bits"], count=shape[0] * shape[1])
            track._set_mask(bits.reshape(shape).astype(bool), None)
        track.score = float(data["score"])
        if data["foreground"] is not None:
            track.appearance = Appearance(
                data["foreground"].copy(), data["background"].copy(), data["keyframe"].copy()
            )
        if data["box"] is not None:
            track.motion = ConstantVelocity(data["box"], data["velocity"])
        track.reference_area = float(data["reference_area"])
        track.lost_frames = int(data["lost_frames"])
        track.followed_frames = int(data["followed_frames"])
        if data["low_res_logits"] is not None:
            track.low_res_logits = torch.from_numpy(data["low_res_logits"].copy()).to(device)
        track.occluder = data["occluder"]
        # Snapshots from before this field: a followed track then counts as found again.
        track.prompted_streak = bool(data.get("prompted_streak", False))
        track.lost_speed = float(data.get("lost_speed", 0.0))
        track.drawn_keyframe = bool(data.get("drawn_keyframe", False))
        track.doubtful_frames = int(data.get("doubtful_frames", 0))
        track.score_level = float(data.get("score_level", 0.0))
        if data["anchor_odds"] is not None:
            track.anchor_odds = data["anchor_odds"].copy()
        if data.get("learned") is not None:
            track.learned = ColourLikelihood.restore(data["learned"])
        if data.get("amodal") is not None:
            track.amodal = data["amodal"].copy()
        return track
