"""Following a set of objects through consecutive frames in one direction (forward or backward).

Per frame: keyframe prompts (re)seed their objects; every other followed object is prompted
from its motion-warped mask and every lost object from an appearance search; all prompts are
decoded in one engine call; all K candidates of all prompts are matched to all tracks with the
Hungarian algorithm; overlaps are resolved; each track is updated (followed, lost or found).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from segany_video.errors import PromptError
from segany_video.models.base import MaskCandidates, ObjectPrompt, PromptableSegmenter
from segany_video.results import ObjectResult, TrackState
from segany_video.runtime.encoded import EncodedFrame
from segany_video.tracking.appearance import Appearance, ColourIndex, colour_odds, half_lab
from segany_video.tracking.association import association_cost, hellinger_matrix, iou_matrix
from segany_video.tracking.boxes import Box, as_xyxy, tight_box
from segany_video.tracking.colour_likelihood import ColourLikelihood, table_index
from segany_video.tracking.hidden import BodyMotion, after_frame, carry
from segany_video.tracking.matching import match_candidates
from segany_video.tracking.motion import FlowEstimator, FlowField
from segany_video.tracking.motion_cue import (
    MotionCue,
    PartMotion,
    motion_against_ring,
    object_motion,
)
from segany_video.tracking.overlaps import resolve_overlaps
from segany_video.tracking.prompt_builder import (
    REGROWING_FLOOR,
    STEADY_FLOOR,
    colour_posterior,
    propagation_prompt,
    search_prompt,
)
from segany_video.tracking.prompts import ResolvedKeyframe
from segany_video.tracking.reach import drop_detached, within_reach
from segany_video.tracking.rigid import rigid_warp
from segany_video.tracking.search import find_lost_object, search_window
from segany_video.tracking.settings import TrackerSettings
from segany_video.tracking.track import Track


@dataclass
class _Outcome:
    """A mask chosen for a track on this frame, before overlaps are resolved."""

    mask: np.ndarray
    score: float
    low_res: torch.Tensor | None
    box: Box | None = None  # holds every pixel of mask (None: not known)


@dataclass
class _Carried:
    """A followed track carried to this frame by motion alone."""

    soft: np.ndarray  # (H, W) float32 in [0, 1]: its warped mask (and parts carried back)
    support: Box | None  # a box outside which soft is zero (None: not known)
    moved: np.ndarray  # (H, W) bool: soft > 0.5
    moved_box: Box | None  # tight box of moved
    ages: np.ndarray | None  # the track's age map carried here (see .hidden)
    back: np.ndarray | None = None  # (H, W) bool: lost parts offered back, now in moved
    rigid: bool = False  # carried by one similarity (.rigid), not by the flow


@dataclass
class _Expectation:
    """Where a followed track should be on this frame, before the engine is asked."""

    soft: np.ndarray  # (H, W) float32 in [0, 1]: the dense prior of its prompt
    mask: np.ndarray  # (H, W) bool: soft > 0.5, matched against the candidates
    box: Box | None  # tight box of mask
    moved: np.ndarray  # (H, W) bool: where motion alone carries it, bounding its growth
    moved_box: Box | None  # tight box of moved
    carried: np.ndarray | None = None  # the track's age map carried here (see .hidden)
    back: np.ndarray | None = None  # lost parts offered back, now in moved


@dataclass
class _Proposals:
    """The prompts of this frame and, per track row, the mask it is expected to have."""

    rows: list[int] = field(default_factory=list)  # track slots taking part in matching
    expected: list[np.ndarray] = field(default_factory=list)  # per row (H, W) bool
    expected_boxes: list[Box | None] = field(default_factory=list)  # tight box of expected
    prompts: list[ObjectPrompt] = field(default_factory=list)
    # Per row the motion-only mask bounding growth (None: no limit), and its tight box.
    reach: list[np.ndarray | None] = field(default_factory=list)
    reach_boxes: list[Box | None] = field(default_factory=list)
    # Per row the lost parts offered back on this frame, part of reach (None: none).
    returning: list[np.ndarray | None] = field(default_factory=list)

    def add(
        self,
        slot: int,
        expected: np.ndarray,
        box: Box | None,
        reach: tuple[np.ndarray | None, Box | None],
        prompt: ObjectPrompt | None,
        returning: np.ndarray | None = None,
    ) -> None:
        """One row; a row without a prompt still matches candidates of the others' prompts."""
        self.rows.append(slot)
        self.returning.append(returning)
        self.expected.append(expected)
        self.expected_boxes.append(box)
        self.reach.append(reach[0])
        self.reach_boxes.append(reach[1])
        if prompt is not None:
            self.prompts.append(prompt)


class Propagator:
    """Tracks some objects through frames fed one at a time, in the order fed.

    Args:
        model: the engine decoding prompts.
        object_ids: the objects followed, in output order.
        keyframes: frame index -> ``[(slot, keyframe)]`` prompts that (re)seed objects there.
        settings: tracker settings.
    """

    def __init__(
        self,
        model: PromptableSegmenter,
        object_ids: Sequence[int | str],
        keyframes: Mapping[int, Sequence[tuple[int, ResolvedKeyframe]]],
        settings: TrackerSettings,
    ) -> None:
        self.model = model
        self.settings = settings
        self.keyframes = keyframes
        self.tracks = [Track(object_id) for object_id in object_ids]
        self.flow = FlowEstimator(settings.flow_scale, settings.flow_preset, settings.flow_min_side)
        self._carried: dict[int, np.ndarray | None] = {}  # per slot, for this frame's commit
        # Grey frames, this one and the one before, for motion that is not the flow's.
        self._grey: np.ndarray | None = None
        self._previous_grey: np.ndarray | None = None

    def step(self, frame: EncodedFrame) -> list[ObjectResult]:
        """Process the next frame; one result per object, in output order."""
        grey = None
        if self.settings.rigid_motion:
            grey = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
            self._previous_grey, self._grey = self._grey, grey
        flow = self.flow.next_frame(frame.image, grey)
        lab = half_lab(frame.image)
        colours = ColourIndex(frame.image, self.settings.appearance_bins, lab)
        fine = ColourIndex(frame.image, self.settings.prior_bins, lab)
        # Only tracks seeded on an earlier frame read the table (this frame's seeds fit theirs).
        learned = any(track.learned is not None for track in self.tracks)
        cells = table_index(lab) if learned else None
        outcomes = self._seed(frame, self.keyframes.get(frame.index, ()))
        proposals = self._propose(flow, colours, fine, cells, seeded=outcomes.keys())
        outcomes.update(self._associate(frame, colours, proposals, flow))
        keyed = self.keyframes.get(frame.index, ())
        return self._commit(frame, colours, fine, lab, outcomes, seeded=keyed)

    def _seed(
        self, frame: EncodedFrame, keyed: Sequence[tuple[int, ResolvedKeyframe]]
    ) -> dict[int, _Outcome]:
        """Decode the user's prompts; a single click takes the best of the multimask output."""
        outcomes: dict[int, _Outcome] = {}
        groups: dict[bool, list[tuple[int, ObjectPrompt]]] = {True: [], False: []}
        for slot, keyframe in keyed:
            if keyframe.mask is not None:
                outcomes[slot] = _Outcome(keyframe.mask.copy(), 1.0, None)
                continue
            prompt = ObjectPrompt(keyframe.points, keyframe.point_labels, keyframe.box)
            ambiguous = keyframe.box is None and len(keyframe.points) == 1
            groups[ambiguous].append((slot, prompt))
        for multimask, group in groups.items():
            if not group:
                continue
            candidates = self.model.decode(
                frame.features, [p for _, p in group], multimask=multimask
            )
            masks = candidates.logits.detach().cpu().numpy() > 0
            scores = candidates.scores.float().cpu().numpy()
            for n, (slot, _) in enumerate(group):
                k = int(np.argmax(scores[n]))
                if not masks[n, k].any():
                    raise PromptError(
                        f"object {self.tracks[slot].object_id!r}, frame {frame.index}: the "
                        "engine found nothing at the prompt; give a box or a mask instead"
                    )
                outcomes[slot] = _Outcome(
                    masks[n, k], float(scores[n, k]), _low_res(candidates, n, k)
                )
        return outcomes

    def _propose(
        self,
        flow: FlowField | None,
        colours: ColourIndex,
        fine: ColourIndex,
        cells: np.ndarray | None,
        seeded: object,
    ) -> _Proposals:
        """Expected masks and prompts: warped masks for followed tracks, search for lost ones
        (``cells``: this frame's colour-table cells, None without learned colours)."""
        s = self.settings
        carried = {
            slot: self._carry(track, flow)
            for slot, track in enumerate(self.tracks)
            if slot not in seeded and track.is_followed
        }
        # Each followed object's motion, for the others' priors (none with one object).
        motions = _motions(flow, carried) if len(carried) > 1 else {}
        expected = {}
        for slot, c in carried.items():
            track = self.tracks[slot]
            # Parts coming back into view from behind another object carry its smeared flow:
            # the others' motions speak only for an object seen (nearly) whole.
            others = [] if track.regrowing else [m for o, m in motions.items() if o != slot]
            expected[slot] = self._expect(track, flow, fine, cells, c, others)
        self._carried = {slot: e.carried for slot, e in expected.items()}
        proposals = _Proposals()
        for slot, expectation in expected.items():
            others = [e.mask for other, e in expected.items() if other != slot]
            prompt = propagation_prompt(
                expectation.soft,
                others,
                positive=s.positive_points,
                negative=s.negative_points,
                padding=s.box_padding,
                dense=s.use_dense_prior,
                low_res_logits=self.tracks[slot].low_res_logits,
                within=expectation.box,
            )
            # Motion of an object just found again is not known yet: no growth limit then.
            steady = self.tracks[slot].followed_frames >= 3
            reach = (expectation.moved, expectation.moved_box) if steady else (None, None)
            back = expectation.back if steady else None
            proposals.add(slot, expectation.mask, expectation.box, reach, prompt, back)
        taken = np.zeros(colours.frame_size, dtype=bool)
        for expectation in expected.values():
            x0, y0, x1, y1 = expectation.box or (0, 0, 0, 0)
            taken[y0:y1, x0:x1] |= expectation.mask[y0:y1, x0:x1]
        for slot, track in enumerate(self.tracks):
            if slot in seeded or track.state is not TrackState.LOST:
                continue
            if s.max_lost_frames is not None and track.lost_frames > s.max_lost_frames:
                continue
            blob = self._search(track, colours, taken)
            if blob is None:
                continue
            prompt = search_prompt(blob, s.positive_points, s.box_padding)
            if prompt is not None:
                proposals.add(slot, blob, tight_box(blob), (None, None), prompt)
        return proposals

    def _carry(self, track: Track, flow: FlowField | None) -> _Carried:
        """Where motion alone carries a followed track on this frame: what bounds its growth
        (colour can leak into look-alike surroundings; matching uses :meth:`_expect`)."""
        s = self.settings
        assert track.mask is not None and track.box is not None
        rigid = None
        if flow is None:
            soft, support = track.mask.astype(np.float32), track.box
        else:
            soft, support = flow.warp(track.mask, track.box), flow.landing(track.box)
            if self._previous_grey is not None and self._grey is not None:
                rigid = rigid_warp(
                    self._previous_grey, self._grey, track.mask, track.box, flow, soft, support
                )
            if rigid is not None:
                soft, support = rigid.soft, rigid.box
        moved, moved_box = _over_half(soft, support)
        ages, returning = None, None
        if flow is not None and s.hidden_prior > 0 and track.amodal is not None and moved_box:
            body = BodyMotion(flow, moved, moved_box, s.motion_sigma)
            ages, back = carry(track.amodal, body, moved, track.reference_area)
            # A sliver's flow is mostly its occluder's, smeared over it: most of the object
            # must be in view for its motion to say where the rest is.
            if track.area >= 0.5 * track.reference_area and back.any():
                soft = np.maximum(soft, back * np.float32(s.hidden_prior))
                moved = moved | back
                moved_box = tight_box(moved)
                support = None
                returning = back
        return _Carried(soft, support, moved, moved_box, ages, returning, rigid is not None)

    def _expect(
        self,
        track: Track,
        flow: FlowField | None,
        fine: ColourIndex,
        cells: np.ndarray | None,
        carried: _Carried,
        others: Sequence[tuple[np.ndarray, Box]],
    ) -> _Expectation:
        """Where a followed track should be on this frame: its mask carried by motion, then
        sharpened by its colours, and by motion against its surroundings and ``others`` (the
        other followed objects' motions and boxes)."""
        s = self.settings
        soft, support = carried.soft, carried.support
        if s.colour_prior and track.anchor_odds is not None:
            floor = REGROWING_FLOOR if track.regrowing else STEADY_FLOOR
            cue = None
            if flow is not None and s.motion_confidence > 0.5:
                cue = MotionCue(flow, s.motion_confidence, s.motion_sigma, others)
            blur = self._prior_blur(track, flow, carried)
            soft = colour_posterior(
                soft, track.anchor_odds, fine, blur, floor, support, cue, track.learned, cells
            )
            support = None  # the posterior reaches past where motion lands
        mask, box = _over_half(soft, support)
        return _Expectation(
            soft, mask, box, carried.moved, carried.moved_box, carried.ages, carried.back
        )

    def _prior_blur(self, track: Track, flow: FlowField | None, carried: _Carried) -> float:
        """The warped prior's blur, as a fraction of ``sqrt(area)``: as wide as the object's
        motion against its surroundings can smear its outline, within the settings' bounds."""
        s = self.settings
        if flow is None or s.prior_blur_motion == 0 or track.regrowing:
            return s.prior_blur
        box = carried.moved_box
        stray = motion_against_ring(flow, carried.moved, box)
        if stray is None or box is None:
            return s.prior_blur
        # Counted within its box: a full-frame scan per object and frame is what crops avoid.
        size = np.sqrt(max(1, np.count_nonzero(carried.moved[box[1] : box[3], box[0] : box[2]])))
        # At least the flow's noise, twice over; no more for an object one transform carries.
        least = min(2.0 * s.motion_sigma / size, s.prior_blur)
        if carried.rigid:
            return float(least)
        return float(np.clip(s.prior_blur_motion * stray / size, least, s.prior_blur))

    def _search(self, track: Track, colours: ColourIndex, taken: np.ndarray) -> np.ndarray | None:
        s = self.settings
        assert track.motion is not None and track.appearance is not None
        predicted = track.motion.box + np.tile(track.motion.velocity, 2)
        cover = next((t for t in self.tracks if t.object_id == track.occluder), None)
        if cover is not None and cover.is_followed and cover.motion is not None:
            # It will come out somewhere around its cover's outline.
            predicted = cover.motion.box
        window = search_window(
            predicted,
            track.lost_frames,
            s.search_start,
            s.search_growth,
            colours.frame_size,
            s.search_speed * track.lost_speed,
        )
        if window is None:
            return None
        centre = ((predicted[0] + predicted[2]) / 2.0, (predicted[1] + predicted[3]) / 2.0)
        return find_lost_object(
            colours,
            track.appearance,
            window,
            track.reference_area,
            s.min_area_fraction,
            taken,
            centre,
        )

    def _associate(
        self,
        frame: EncodedFrame,
        colours: ColourIndex,
        proposals: _Proposals,
        flow: FlowField | None,
    ) -> dict[int, _Outcome]:
        """Decode all prompts at once and give each track at most one candidate (Hungarian)."""
        if not proposals.prompts or not proposals.rows:
            return {}
        candidates = self.model.decode(frame.features, proposals.prompts, multimask=True)
        n, k = candidates.scores.shape
        masks_np = candidates.logits.detach().cpu().numpy().reshape(n * k, -1) > 0
        masks_np = masks_np.reshape(n * k, *candidates.logits.shape[2:])
        quality = candidates.scores.float().cpu().numpy().reshape(-1)
        # Each mask is scanned once for its box; overlaps and colours then read crops only.
        boxes = [tight_box(m) for m in masks_np]
        iou = iou_matrix(proposals.expected, proposals.expected_boxes, masks_np, boxes)
        cand_hists = np.stack(
            [colours.histogram(m, b) for m, b in zip(masks_np, boxes, strict=True)]
        )
        current = np.stack([self._appearance(slot).foreground for slot in proposals.rows])
        keyframe = np.stack([self._appearance(slot).keyframe for slot in proposals.rows])
        # Closer of the two: the recent look (gradual change) or the keyframe (recovery).
        distance = np.minimum(
            hellinger_matrix(current, cand_hists), hellinger_matrix(keyframe, cand_hists)
        )
        lost = np.array([self.tracks[slot].state is TrackState.LOST for slot in proposals.rows])
        # The engine's own order counts only while every object is seen whole and steadily.
        # When one is hidden or coming back into view it grows from frame to frame, and cuts
        # bounded by last frame's masks (its own, or a neighbour's still covering where it
        # re-emerges) lag that growth; the candidate closest to motion is then the safer one.
        settled = all(
            t.mask is None or (t.state is not TrackState.LOST and not t.regrowing)
            for t in self.tracks
        )
        steady = np.full(len(proposals.rows), settled)
        rank = steady[:, None] * np.tile(np.arange(k) / max(k - 1, 1), n)[None, :]
        areas = np.array([_box_area(m, b) for m, b in zip(masks_np, boxes, strict=True)])
        references = np.array([self.tracks[slot].reference_area for slot in proposals.rows])
        size_ratio = areas[None, :] / np.maximum(references[:, None], 1.0)
        cost = association_cost(
            iou, quality, distance, lost, self.settings, rank, size_ratio=size_ratio
        )
        matching = match_candidates(cost, self.settings.gate)
        # Parts split off by an occluder move with the body, or were kept apart last frame as
        # its edge shaves them; broken-off leaks do neither.
        parts = None if flow is None else PartMotion(flow, self.settings.motion_sigma)
        outcomes = {}
        for row, col in matching.matches:
            slot = proposals.rows[row]
            mask, box = masks_np[col], boxes[col]
            reach = proposals.reach[row]  # None for a re-found object: it may reappear bigger
            if reach is not None:
                reach_box = proposals.reach_boxes[row]
                mask = within_reach(mask, reach, self.settings.max_growth, reach_box)
                mask = drop_detached(
                    mask,
                    self.settings.max_gap,
                    box,
                    parts,
                    reach,
                    reach_box,
                    proposals.returning[row],
                )
            outcomes[slot] = _Outcome(
                mask, float(quality[col]), _low_res(candidates, col // k, col % k), box
            )
        return outcomes

    def _appearance(self, slot: int) -> Appearance:
        appearance = self.tracks[slot].appearance
        assert appearance is not None
        return appearance

    def _commit(
        self,
        frame: EncodedFrame,
        colours: ColourIndex,
        fine: ColourIndex,
        lab: np.ndarray,
        outcomes: dict[int, _Outcome],
        seeded: Sequence[tuple[int, ResolvedKeyframe]],
    ) -> list[ObjectResult]:
        """Resolve overlaps, update every track, and report this frame (``lab``: the frame's
        half-resolution Lab, which a keyframe's learned colours are fitted to)."""
        s = self.settings
        seeded_slots = {slot for slot, _ in seeded}
        drawn = {slot: keyframe.mask is not None for slot, keyframe in seeded}
        ordered = [outcomes.get(slot) for slot in range(len(self.tracks))]
        odds = [
            None
            if t.appearance is None or slot in seeded_slots
            else colour_odds(t.appearance.foreground, t.appearance.background)
            for slot, t in enumerate(self.tracks)
        ]
        # A user's keyframe prompt is authoritative: it beats any propagated claim. Between two
        # keyframe prompts the smaller mask wins shared pixels (a part prompted inside a whole).
        frame_area = float(frame.image.shape[0] * frame.image.shape[1])
        scores = [
            (1e6 + 1.0 - float(np.count_nonzero(o.mask)) / frame_area if o else 1e6)
            if slot in seeded_slots
            else (o.score if o else 0.0)
            for slot, o in enumerate(ordered)
        ]
        masks = resolve_overlaps(
            [o.mask if o else None for o in ordered],
            scores,
            colours,
            odds,
            [o.box if o else None for o in ordered],
        )
        results = []
        for slot, track in enumerate(self.tracks):
            outcome, mask = ordered[slot], masks[slot]
            # Overlaps only take pixels away: the outcome's box still holds the mask.
            box = None if outcome is None or mask is None else tight_box(mask, outcome.box)
            if slot in seeded_slots:
                assert outcome is not None and mask is not None
                if box is None:
                    raise PromptError(
                        f"object {track.object_id!r}, frame {frame.index}: its prompt gives the "
                        "same pixels as another object's prompt on this frame, so nothing is "
                        "left for it; prompt a different part or drop one of the two objects"
                    )
                anchor = Appearance.anchor_odds(fine, mask, box)
                learned = None
                if s.learned_colour:
                    learned = ColourLikelihood.fit(lab, fine, mask, box)
                appearance = Appearance.measure(colours, mask, box)
                track.seed(mask, outcome.score, appearance, anchor, box, drawn[slot], learned)
                track.low_res_logits = outcome.low_res
                if s.hidden_prior > 0:
                    track.amodal = after_frame(None, mask)
            elif outcome is not None and mask is not None and self._visible(track, mask, box):
                appearance = Appearance.measure(colours, mask, box)
                if track.state is TrackState.LOST and track.anchor_odds is not None:
                    # Found again after being out of sight, the object may stand on ground its
                    # keyframe never showed, whose colours its anchor has no evidence on (odds
                    # 0.5): the colour prior then keeps whatever motion puts there. And motion
                    # puts ground there: the backward warp gives the band an object uncovers as
                    # it moves the object's label (a wider band when the flow underestimates a
                    # fast object), and a band kept once rides on the ground's flow from then
                    # on, so the mask trails a growing wake and then slides off the object.
                    # Seen around the object now, those colours are background.
                    track.anchor_odds = Appearance.anchor_odds_found_again(
                        track.anchor_odds, fine, mask, box
                    )
                track.follow(
                    mask,
                    outcome.score,
                    appearance,
                    s.appearance_rate,
                    s.appearance_gate,
                    box,
                    s.score_colour_power,
                    s.doubt_score,
                    s.doubt_ratio,
                )
                track.low_res_logits = outcome.low_res
                if s.hidden_prior > 0:
                    track.amodal = after_frame(self._carried.get(slot), mask)
                if track.doubtful_frames > s.doubt_frames:
                    # Frame after frame the mask does not look like the object: it has most
                    # likely slid onto something else. Missing beats wrong, and a lost object
                    # is searched for.
                    track.lose()
            elif track.state is not TrackState.INACTIVE:
                track.lose()
            results.append(_result(track, frame.image.shape[:2]))
        self._carry_lost()
        return results

    def _carry_lost(self) -> None:
        """Move lost objects on: behind their occluder if they vanished behind one, else coast.

        An object that disappears where another object now is was most likely covered by it,
        and a covered object travels with its cover far more often than on its own path.
        """
        by_id = {track.object_id: track for track in self.tracks}
        for track in self.tracks:
            if track.state is not TrackState.LOST or track.motion is None:
                continue
            if track.lost_frames == 1:
                track.occluder = self._occluder_of(track)
            cover = by_id.get(track.occluder)
            if cover is not None and cover.is_followed and cover.motion is not None:
                track.motion.velocity = cover.motion.velocity.copy()
                track.motion.coast(1.0)
            else:
                track.motion.coast(self.settings.velocity_damping)

    def _occluder_of(self, track: Track) -> int | str | None:
        assert track.mask is not None
        size = max(2, int(0.2 * np.sqrt(np.count_nonzero(track.mask))))
        kernel = np.ones((2 * size + 1, 2 * size + 1), np.uint8)
        around = cv2.dilate(track.mask.astype(np.uint8), kernel) > 0
        best, best_overlap = None, 0
        for other in self.tracks:
            if other is track or not other.is_followed or other.mask is None:
                continue
            overlap = int(np.count_nonzero(around & other.mask))
            if overlap > best_overlap:
                best, best_overlap = other.object_id, overlap
        return best

    def _visible(self, track: Track, mask: np.ndarray, box: Box | None) -> bool:
        x0, y0, x1, y1 = box or (0, 0, 0, 0)
        area = float(np.count_nonzero(mask[y0:y1, x0:x1]))
        return area > 0 and area >= self.settings.min_area_fraction * track.reference_area

    def snapshot(self) -> dict:
        """Plain data that :meth:`restore` turns back into exactly this state."""
        previous = self.flow.previous
        return {
            "previous_grey": None if previous is None else previous.copy(),
            "grey": None if self._grey is None else self._grey.copy(),
            "tracks": [track.snapshot() for track in self.tracks],
        }

    def restore(self, data: dict) -> None:
        previous = data["previous_grey"]
        self.flow.previous = None if previous is None else previous.copy()
        grey = data.get("grey")  # absent from snapshots taken before rigid motion
        self._grey = None if grey is None else grey.copy()
        self.tracks = [Track.restore(t, self.model.device) for t in data["tracks"]]


def _over_half(soft: np.ndarray, within: Box | None) -> tuple[np.ndarray, Box | None]:
    """``soft > 0.5`` as an ``(H, W)`` bool mask and its tight box, comparing only ``within``
    (a box outside which ``soft`` is zero; None: the whole frame)."""
    if within is None:
        mask = soft > 0.5
    else:
        x0, y0, x1, y1 = within
        mask = np.zeros(soft.shape, dtype=bool)
        mask[y0:y1, x0:x1] = soft[y0:y1, x0:x1] > 0.5
    return mask, tight_box(mask, within)


def _box_area(mask: np.ndarray, box: Box | None) -> float:
    if box is None:
        return 0.0
    return float(np.count_nonzero(mask[box[1] : box[3], box[0] : box[2]]))


def _low_res(candidates: MaskCandidates, n: int, k: int) -> torch.Tensor | None:
    if candidates.low_res_logits is None:
        return None
    return candidates.low_res_logits[n, k].clone()


def _result(track: Track, frame_size: tuple[int, int]) -> ObjectResult:
    if track.is_followed:
        assert track.mask is not None
        return ObjectResult(
            track.object_id, track.mask, as_xyxy(track.box), track.score, track.state
        )
    return ObjectResult(track.object_id, np.zeros(frame_size, dtype=bool), None, 0.0, track.state)


def _motions(
    flow: FlowField | None, carried: Mapping[int, _Carried]
) -> dict[int, tuple[np.ndarray, Box]]:
    """Per slot, the median motion of a carried track and where it lands (when measurable)."""
    motions = {}
    for slot, c in carried.items():
        if flow is None or c.moved_box is None:
            continue
        motion = object_motion(flow, c.moved, c.moved_box)
        if motion is not None:
            motions[slot] = (motion, c.moved_box)
    return motions
