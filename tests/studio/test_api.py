"""The studio's HTTP API in-process: frames, clicks, previews, tracking, corrections, export.

Expectations come from elsewhere: the sample's ground truth, the reader's own frames, and the
library's own tracker run on the prompts file the studio saved.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from studio_support import centre, iou, truth, unpack, wait_job

from segany_video.readers.reader import open_video

pytest.importorskip(
    "starlette", reason="the studio extra is not installed: pip install -e '.[studio]'"
)
pytest.importorskip("httpx", reason="httpx (Starlette's test client) is not installed")

H, W = 360, 640


def _mask(preview: dict) -> np.ndarray:
    return unpack(preview["candidates"][preview["chosen"]]["mask"], (H, W)).astype(bool)


def _click(client, object_id, frame, x, y, label=1) -> dict:
    body = {"object": object_id, "frame": frame, "x": x, "y": y, "label": label}
    response = client.post("/api/click", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _track(client, **body) -> dict:
    response = client.post("/api/track", json=body)
    assert response.status_code == 200, response.text
    progress = wait_job(client)
    assert progress["state"] == "done", progress
    return progress


def _replayed(session, root: Path, end: int) -> dict[int, dict]:
    """Masks of a fresh library run on the prompts file the studio writes (frame -> id -> mask)."""
    data, masks = session.board.prompts_file()
    folder = root / "replay"
    folder.mkdir(exist_ok=True)
    for name, mask in masks.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), mask.astype(np.uint8) * 255)
    (folder / "prompts.json").write_text(json.dumps(data))
    video = root / "videos" / "clip.mp4"
    out = {}
    for result in session.segmenter.track(video, folder / "prompts.json", end=end):
        out[result.index] = {k: v.mask for k, v in result.objects.items()}
    return out


def _stored(session, end: int) -> dict[int, dict]:
    out = {}
    for index in range(end):
        result = session.store.frame(index)
        assert result is not None, f"frame {index} is not tracked"
        out[index] = {k: v.mask for k, v in result.objects.items()}
    return out


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for index in a:
        assert a[index].keys() == b[index].keys(), index
        for object_id in a[index]:
            assert np.array_equal(a[index][object_id], b[index][object_id]), (index, object_id)


def test_frame_is_the_readers_frame(opened):
    response = opened.get("/api/frame/12")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    shown = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    with open_video(_video_path(opened)) as video:
        expected = cv2.cvtColor(video.read_frames([12]).frames[0], cv2.COLOR_RGB2BGR)
    assert shown.shape == expected.shape
    assert np.abs(shown.astype(int) - expected.astype(int)).mean() < 3  # JPEG, not a blank frame


def _video_path(client) -> Path:
    state = client.get("/api/state").json()
    return Path(state["root"]) / state["video"]["path"]


def test_state_lists_the_videos_metadata(opened):
    state = opened.get("/api/state").json()
    assert state["video"]["width"] == W and state["video"]["height"] == H
    assert state["video"]["frame_count"] == 150
    assert state["engine"]["name"] == "classic"
    listing = opened.get("/api/files", params={"dir": "videos"}).json()
    assert [e["name"] for e in listing["entries"]] == ["clip.mp4"]


def test_first_click_creates_object_1_and_previews_it(opened):
    x, y = centre(1)
    preview = _click(opened, None, 0, x, y)
    assert [o["id"] for o in preview["objects"]] == [1]
    assert preview["object"] == 1
    scores = [c["score"] for c in preview["candidates"]]
    assert len(scores) >= 2 and preview["chosen"] == int(np.argmax(scores))
    assert iou(_mask(preview), truth(0, 1)) > 0.8
    # A second click without naming an object is refused: which object is meant?
    response = opened.post("/api/click", json={"frame": 0, "x": 10, "y": 10})
    assert response.status_code == 400 and "select an object" in response.json()["error"]


def test_box_negative_click_mask_upload_and_undo(opened):
    obj = opened.post("/api/objects", json={"name": "pink", "colour": "#ff00ff"}).json()
    x0, y0, x1, y1 = (60, 262, 112, 317)
    preview = opened.post("/api/box", json={"object": obj["id"], "frame": 0,
                                            "box": [x0, y0, x1, y1]}).json()  # fmt: skip
    assert iou(_mask(preview), truth(0, 2)) > 0.7
    preview = _click(opened, obj["id"], 0, 20, 20, label=0)
    kf = preview["objects"][0]["prompts"]["0"]
    assert kf["points"] == [[20.0, 20.0, 0]] and kf["box"] == [x0, y0, x1, y1]
    state = opened.post("/api/undo").json()
    assert state["undone"] and state["objects"][0]["prompts"]["0"]["points"] == []
    png = cv2.imencode(".png", truth(0, 2).astype(np.uint8) * 255)[1].tobytes()
    body = {"object": obj["id"], "frame": 0, "png": base64.b64encode(png).decode()}
    preview = opened.post("/api/mask", json=body).json()
    assert np.array_equal(_mask(preview), truth(0, 2))
    assert preview["objects"][0]["prompts"]["0"]["mask"] == "upload"


def test_cycled_candidate_is_what_tracking_starts_from(opened, session, root):
    x, y = centre(3)
    first = _click(opened, None, 0, x, y)
    every = opened.post("/api/preview", json={"object": 1, "frame": 0, "all": True}).json()
    other = next(i for i in range(len(every["candidates"])) if i != every["chosen"])
    chosen = opened.post("/api/choose", json={"object": 1, "frame": 0, "index": other}).json()
    picked = unpack(every["candidates"][other]["mask"], (H, W)).astype(bool)
    assert chosen["chosen"] == other and np.array_equal(_mask(chosen), picked)
    assert not np.array_equal(picked, _mask(first))
    _track(opened, end=2)
    _assert_same(_stored(session, 2), _replayed(session, root, 2))
    assert np.array_equal(session.store.frame(0).objects[1].mask, picked)


@pytest.mark.slow
def test_track_progress_results_strips_and_export(opened, session, root):
    for object_id in (1, 3):
        opened.post("/api/objects", json={})
        _click(opened, object_id if object_id == 1 else 2, 0, *centre(object_id))
    progress = _track(opened, end=8)
    assert progress["done"] == progress["total"] == 8 and progress["first"] == 0
    assert progress["frames_per_s"] > 0
    frame = opened.get("/api/results/5").json()
    assert frame["tracked"] and frame["ids"] == [1, 2]
    labels = unpack(frame["labels"], (H, W))
    assert iou(labels == 1, truth(5, 1)) > 0.7 and iou(labels == 2, truth(5, 3)) > 0.7
    assert all(o["state"] == "tracked" and o["box"] for o in frame["objects"])
    strips = opened.get("/api/strips").json()
    assert strips["objects"]["1"][:8] == "p" + "t" * 7 and strips["objects"]["1"][8] == "-"
    assert not opened.get("/api/results/9").json()["tracked"]

    response = opened.post("/api/export", json={"formats": ["png", "json", "davis"],
                                               "folder": "exports/run1"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert wait_job(opened)["state"] == "done"
    exported = opened.get("/api/progress").json()["export"]
    assert "exports/run1/prompts.json" in exported["files"]
    assert exported["command"] == (
        "segany-video track videos/clip.mp4 --prompts exports/run1/prompts.json "
        "--formats png,json,davis --end 8 --out exports/run1"
    )
    # The library's own run of the saved prompts writes the very same files, byte for byte.
    out = root / "exports" / "run1"
    cli = root / "cli"
    session.segmenter.run(root / "videos" / "clip.mp4", out / "prompts.json", cli,
                          formats=["png", "json", "davis"], end=8)  # fmt: skip
    written = sorted(p.relative_to(cli) for p in cli.rglob("*") if p.is_file())
    assert len(written) == 8 * 2 + 8 + 2  # png per object and frame, davis per frame, json, run
    for rel in written:
        if rel.name != "run.json":
            assert (out / rel).read_bytes() == (cli / rel).read_bytes(), rel
    download = opened.get("/api/download", params={"path": "exports/run1/prompts.json"})
    assert download.status_code == 200 and json.loads(download.content) == json.loads(
        exported["prompts"]
    )


@pytest.mark.slow
def test_correction_retracks_from_the_snapshot_before_it(opened, session, root):
    _click(opened, None, 0, *centre(1))
    _track(opened, end=10)
    _click(opened, 1, 8, *centre(1), label=1)  # a keyframe on frame 8
    assert opened.get("/api/strips").json()["stale_from"] == 8
    refused = opened.post("/api/export", json={"formats": ["png"], "folder": "x"})
    assert refused.status_code == 409 and "Track" in refused.json()["error"]
    progress = _track(opened, end=10)
    assert progress["first"] == 8  # resumed after frame 7's snapshot: frames 0..7 kept
    assert progress["total"] == 10 - 8
    assert opened.get("/api/strips").json()["objects"]["1"][8] == "p"
    _assert_same(_stored(session, 10), _replayed(session, root, 10))


@pytest.mark.slow
def test_a_late_object_is_tracked_backward_from_its_first_keyframe(opened, session, root):
    _click(opened, None, 0, *centre(1))
    _track(opened, end=6)
    obj = opened.post("/api/objects", json={}).json()["id"]
    x0, y0, x1, y1 = cv2.boundingRect(truth(4, 3).astype(np.uint8))[:4]
    opened.post("/api/box", json={"object": obj, "frame": 4,
                                  "box": [x0 - 2, y0 - 2, x0 + x1 + 2, y0 + y1 + 2]})  # fmt: skip
    progress = _track(opened, end=6)
    assert progress["first"] == 0  # a new first keyframe: the backward pass changes
    strips = opened.get("/api/strips").json()["objects"]
    assert strips[str(obj)][4] == "p" and strips[str(obj)][:4] != "iiii"
    _assert_same(_stored(session, 6), _replayed(session, root, 6))


def test_cancel_keeps_the_frames_done_and_track_continues(opened, session):
    _click(opened, None, 0, *centre(1))
    opened.post("/api/track", json={})
    while opened.get("/api/progress").json()["progress"]["done"] < 2:
        pass
    assert opened.post("/api/cancel").json()["cancelled"]
    progress = wait_job(opened)
    assert progress["state"] == "cancelled" and progress["done"] < 150
    done = session.store.done_until()
    assert done >= 2
    opened.post("/api/track", json={"end": done + 2})
    progress = wait_job(opened)
    assert progress["state"] == "done" and progress["first"] == done


def test_objects_rename_recolour_delete(opened):
    obj = opened.post("/api/objects", json={}).json()
    assert obj["name"] == "object 1" and obj["colour"].startswith("#")
    state = opened.patch(f"/api/objects/{obj['id']}", json={"name": "ball", "colour": "#00ff00"})
    assert state.json()["objects"][0]["name"] == "ball"
    bad = opened.patch(f"/api/objects/{obj['id']}", json={"colour": "red;"})
    assert bad.status_code == 400
    assert opened.delete(f"/api/objects/{obj['id']}").json()["objects"] == []
    assert opened.delete("/api/objects/7").status_code == 400


class _CountingEngine:
    """The classic engine, counting its encoder and decoder calls."""

    def __init__(self) -> None:
        from segany_video.models.classic.engine import ClassicEngine

        self.inner = ClassicEngine()
        self.info = self.inner.info
        self.embedded = 0
        self.decoded = 0

    @property
    def device(self):
        return self.inner.device

    def embed(self, frames):
        self.embedded += len(frames)
        return self.inner.embed(frames)

    def decode(self, features, prompts, *, multimask=True):
        self.decoded += 1
        return self.inner.decode(features, prompts, multimask=multimask)


@pytest.mark.slow
def test_once_the_frame_is_encoded_only_the_decoder_runs(root):
    from starlette.testclient import TestClient
    from studio_support import TOKEN

    from segany_video.segmenter import VideoSegmenter
    from segany_video.studio.app import create_app
    from segany_video.studio.files import RootFolder
    from segany_video.studio.session import StudioSession

    engine = _CountingEngine()
    session = StudioSession(RootFolder(root), VideoSegmenter(model=engine))
    with TestClient(create_app(session, TOKEN), headers={"X-Studio-Token": TOKEN}) as client:
        client.post("/api/open", json={"path": "videos/clip.mp4"})
        client.post("/api/prepare", json={"frame": 3})  # the page shows frame 3
        assert (engine.embedded, engine.decoded) == (1, 0)
        _click(client, None, 3, *centre(1))
        _click(client, 1, 3, *centre(1), label=1)
        client.post("/api/box", json={"object": 1, "frame": 3, "box": [395, 135, 525, 270]})
        assert (engine.embedded, engine.decoded) == (1, 3)
        client.post("/api/preview", json={"object": 1, "frame": 3})  # unchanged: no decode
        assert (engine.embedded, engine.decoded) == (1, 3)
    session.close()
