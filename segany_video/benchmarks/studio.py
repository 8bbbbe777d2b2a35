"""Benchmark: click-to-mask latency of the studio page's instant preview.

Writes a synthetic clip at the asked size, opens it in a studio session, encodes the shown
frame once (as the page does when a frame is shown) and then times clicks through the real
HTTP API in-process: request in, engine decode, mask deflated into the JSON answer, answer
parsed. Also prints the engine's decode alone and the one-off frame encoding, so the share of
each is visible. Run: ``python -m segany_video.benchmarks.studio [--size 854x480]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import torch


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def _summary(name: str, timings: list[tuple[float, float | None]]) -> str:
    """Median and p90 of wall time, and the median CPU time of this process (all threads;
    None where the work ran in another process), which stays meaningful when other jobs
    share the cores."""
    ms = sorted(wall * 1000 for wall, _ in timings)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    line = f"{name:<36} wall median {statistics.median(ms):7.1f} ms  p90 {p90:7.1f} ms  "
    cpus = [c * 1000 for _, c in timings if c is not None]
    if cpus:
        line += f"cpu median {statistics.median(cpus):7.1f} ms  "
    return line + f"(n={len(ms)})"


def _timed(fn, *args, **kwargs) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    fn(*args, **kwargs)
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="segany-video bench studio", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size", type=_size, default=(854, 480), help="WIDTHxHEIGHT")
    parser.add_argument("--model", default=None, help="engine (default: classic)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=5, help="clicks per object and kind")
    parser.add_argument("--threads", type=int, default=2, help="torch and OpenCV threads")
    parser.add_argument("--browser", metavar="CHROMIUM",
                        help="also time click -> mask drawn in this headless Chromium "
                        "(driven by Playwright), e.g. /usr/bin/chromium")  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    with warnings.catch_warnings():  # Starlette's notice about its test client's HTTP library
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from segany_video.segmenter import VideoSegmenter
    from segany_video.studio.app import create_app
    from segany_video.studio.files import RootFolder
    from segany_video.studio.preview import preview_keyframe
    from segany_video.studio.session import StudioSession
    from segany_video.synthetic.clips import make_clip
    from segany_video.synthetic.writer import write_clip

    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(0, num_frames=60, size=args.size)  # >= 60: the scenario's minimum
        paths = write_clip(clip, Path(tmp) / "clip")
        boxes = [kf["box"] for obj in _objects(paths.prompts) for kf in obj["keyframes"]]
        session = StudioSession(RootFolder(Path(tmp)), VideoSegmenter(args.model, args.device))
        client = TestClient(create_app(session, "t"), headers={"X-Studio-Token": "t"})
        client.post("/api/open", json={"path": f"clip/{paths.video.name}"}).raise_for_status()
        encode = _timed(client.post, "/api/prepare", json={"frame": 0})

        first, second, decode_only = [], [], []
        for _ in range(args.repeats):
            for box in boxes:
                cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                obj = client.post("/api/objects", json={}).json()["id"]
                first.append(_click(client, obj, cx, cy, 1))
                second.append(_click(client, obj, cx + (box[2] - box[0]) / 5, cy, 1))
                keyframe = session.board.get(obj).keyframes[0]
                features = session.features.get(0)
                decode_only.append(
                    _timed(preview_keyframe, session.segmenter.runtime, features, keyframe,
                           all_candidates=False)
                )  # fmt: skip
        in_page = []
        if args.browser:
            session.open(f"clip/{paths.video.name}")  # a fresh page: no objects yet
            in_page = _page_clicks(session, args.browser, boxes, args.repeats)
        session.close()
    width, height = args.size
    engine = session.segmenter.model.info.name
    print(f"studio preview latency, {engine} engine, {width}x{height}, {args.threads} threads")
    print(_summary("frame encoding (once per frame)", [encode]))
    print(_summary("click -> mask (1st click, 3 cand.)", first))
    print(_summary("click -> mask (2nd click, 1 cand.)", second))
    print(_summary("engine decode alone (2 clicks)", decode_only))
    if in_page:
        print(_summary("in Chromium: click -> mask drawn", [(t, None) for t in in_page]))
    return 0


def _page_clicks(session, chromium: str, boxes: list, repeats: int) -> list[float]:
    """Click each object's centre in the real page; the page times click -> mask drawn."""
    from playwright.sync_api import sync_playwright

    from segany_video.studio.app import create_app
    from segany_video.studio.server import BackgroundServer, page_url

    width, height = session.video.info.width, session.video.info.height
    times = []
    with BackgroundServer(create_app(session, "t")) as server, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            # bypass_csp: Playwright's waits evaluate code, which the page's policy forbids.
            context = browser.new_context(viewport={"width": 1400, "height": 900},
                                          bypass_csp=True)  # fmt: skip
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(page_url("127.0.0.1", server.port, "t"))
            page.wait_for_function("window.studio.ready && window.studio.pending === 0")
            page.wait_for_timeout(1000)  # the shown frame's encoding (prepare) finishes
            rect = page.locator("#marks").bounding_box()
            for _ in range(repeats):
                for box in boxes:
                    page.click("#addObject")
                    page.wait_for_function("window.studio.pending === 0")
                    x = rect["x"] + (box[0] + box[2]) / 2 * rect["width"] / width
                    y = rect["y"] + (box[1] + box[3]) / 2 * rect["height"] / height
                    page.mouse.click(x, y)
                    page.wait_for_function("window.studio.pending === 0")
                    times.append(page.evaluate("window.studio.lastClickMs") / 1000)
        finally:
            browser.close()
    return times


def _objects(prompts_path: Path) -> list[dict]:
    import json

    return json.loads(Path(prompts_path).read_text())["objects"]


def _click(client, obj: int, x: float, y: float, label: int) -> tuple[float, float]:
    def request() -> None:
        body = {"object": obj, "frame": 0, "x": x, "y": y, "label": label}
        response = client.post("/api/click", json=body)
        response.raise_for_status()
        response.json()

    return _timed(request)


if __name__ == "__main__":
    raise SystemExit(main())
