"""End to end in a real headless browser (Debian's chromium driven by Playwright).

Opens the bundled sample, adds its three objects by clicking, checks the previews on the page's
mask layer against the sample's ground truth, tracks, scrubs to frame 16 (object 3 in front of
object 1), exports, and checks the exported masks against a CLI run of the saved prompts.
Set ``SEGANY_STUDIO_SCREENSHOTS=DIR`` to keep the two screenshots (the README's come from here).
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from studio_support import SAMPLE, TOKEN, centre, iou, truth

pytest.importorskip(
    "starlette", reason="the studio extra is not installed: pip install -e '.[studio]'"
)
pytest.importorskip("httpx", reason="httpx (Starlette's test client) is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip(
    "playwright.sync_api",
    reason="no browser driver: pip install playwright (the browser itself comes from apt)",
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no headless browser: apt-get install -y chromium (never downloaded by tests)",
    ),
]
END = 18  # frames tracked: enough to reach frame 16, where object 3 crosses object 1


@pytest.fixture
def served(tmp_path, segmenter):
    """The studio on 127.0.0.1 over a root holding the sample; stopped after the test."""
    from segany_video.studio.app import create_app
    from segany_video.studio.files import RootFolder
    from segany_video.studio.server import BackgroundServer, page_url
    from segany_video.studio.session import StudioSession

    root = tmp_path / "root"
    (root / "sample").mkdir(parents=True)
    shutil.copy(SAMPLE / "clip.mp4", root / "sample" / "clip.mp4")
    session = StudioSession(RootFolder(root), segmenter)
    server = BackgroundServer(create_app(session, TOKEN), "127.0.0.1", 0).start()
    try:
        yield root, session, page_url("127.0.0.1", server.port, TOKEN)
    finally:
        server.stop()
        session.close()


def _mask_layer(page) -> np.ndarray:
    """The page's mask canvas as ``(H, W, 3)`` RGB (opaque object colours where masks are)."""
    url = page.evaluate("document.getElementById('masks').toDataURL('image/png')")
    data = base64.b64decode(url.split(",", 1)[1])
    bgra = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    rgb = cv2.cvtColor(bgra[..., :3], cv2.COLOR_BGR2RGB)
    rgb[bgra[..., 3] == 0] = 0
    return rgb


def _object_mask(page, layer: np.ndarray, object_id: int) -> np.ndarray:
    colour = page.evaluate(f"window.studio.objects.find((o) => o.id === {object_id}).colour")
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return np.all(layer == rgb, axis=2)


def _settle(page) -> None:
    page.wait_for_function("window.studio.pending === 0 && !window.studio.tracking")


def _shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path))
    keep = os.environ.get("SEGANY_STUDIO_SCREENSHOTS")
    if keep:  # a small copy for the README: 3/4 size, 128-colour palette
        image = Image.open(path).convert("RGB")
        image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.LANCZOS)
        image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(
            Path(keep) / name, optimize=True
        )


def test_click_track_scrub_export_in_chromium(served, tmp_path, monkeypatch):
    root, session, url = served
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            # bypass_csp: Playwright's own waits evaluate code, which the page's CSP forbids.
            context = browser.new_context(viewport={"width": 1280, "height": 800},
                                          bypass_csp=True)  # fmt: skip
            page = context.new_page()
            page.set_default_timeout(180_000)  # a busy CI machine tracks slowly
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.wait_for_function("window.studio && window.studio.ready")
            page.click("#files li[data-name='sample']")
            page.click("#files li[data-name='clip.mp4']")
            page.wait_for_function("window.studio.image !== null")
            _settle(page)
            box = page.locator("#marks").bounding_box()

            def click(x: float, y: float) -> None:
                page.mouse.click(box["x"] + x * box["width"] / 640,
                                 box["y"] + y * box["height"] / 360)  # fmt: skip
                _settle(page)

            # A fresh page: the first click creates object 1 and shows its mask.
            click(*centre(1))
            assert page.evaluate("window.studio.objects.map((o) => o.id)") == [1]
            for object_id in (2, 3):
                page.click("#addObject")
                _settle(page)
                click(*centre(object_id))
            layer = _mask_layer(page)  # every object's keyframe preview on frame 0
            for object_id in (1, 2, 3):
                mask = _object_mask(page, layer, object_id)
                assert iou(mask, truth(0, object_id)) > 0.8, object_id
            page.click("#objects li[data-id='1']")  # selecting shows object 1's candidates
            _settle(page)
            assert page.locator("#candidates button").count() >= 3
            _shot(page, tmp_path, "studio_preview.png")

            def prompts_1() -> dict:
                return page.evaluate("window.studio.objects[0].prompts['0']")

            # A right click is a "not this" click; Ctrl+Z takes it back.
            page.mouse.click(box["x"] + 300 * box["width"] / 640,
                             box["y"] + 60 * box["height"] / 360, button="right")  # fmt: skip
            _settle(page)
            assert [p[2] for p in prompts_1()["points"]] == [1, 0]
            page.keyboard.press("Control+z")
            _settle(page)
            assert [p[2] for p in prompts_1()["points"]] == [1]
            # A drag draws a box; undone as well.
            x0, y0, x1, y1 = 395, 135, 525, 270
            page.mouse.move(box["x"] + x0 * box["width"] / 640, box["y"] + y0 * box["height"] / 360)
            page.mouse.down()
            page.mouse.move(box["x"] + x1 * box["width"] / 640, box["y"] + y1 * box["height"] / 360,
                            steps=5)  # fmt: skip
            page.mouse.up()
            _settle(page)
            drawn = prompts_1()["box"]
            assert drawn is not None and abs(drawn[0] - x0) < 2 and abs(drawn[3] - y1) < 2
            page.keyboard.press("Control+z")
            _settle(page)
            assert prompts_1()["box"] is None

            page.fill("#rangeEnd", str(END))
            page.click("#track")
            _settle(page)  # the click's action lasts until the tracking job has ended
            assert f"tracked frames 0..{END - 1}" in page.text_content("#trackText")

            # Scrub with the shortcuts: +10, then six single steps to frame 16.
            page.click("#fwd10")
            _settle(page)
            for _ in range(6):
                page.keyboard.press("ArrowRight")
                _settle(page)
            assert page.evaluate("window.studio.frame") == 16
            assert "frame 16 / 149" in page.text_content("#frameinfo")
            layer = _mask_layer(page)
            page_1, page_3 = _object_mask(page, layer, 1), _object_mask(page, layer, 3)
            stored = session.store.frame(16)
            assert np.array_equal(page_1, stored.label_map() == 1)
            assert np.array_equal(page_3, stored.label_map() == 3)
            assert iou(page_1, truth(16, 1)) > 0.7 and iou(page_3, truth(16, 3)) > 0.7
            assert np.mean(page_1[truth(16, 3)]) < 0.05  # object 1 not drawn over object 3
            strips = page.locator("#strips .strip").count()
            assert strips == 3
            _shot(page, tmp_path, "studio_results.png")

            page.fill("#exportFolder", "studio_export")
            page.click("#export")
            page.wait_for_function("window.studio.lastExport !== undefined")
            _settle(page)
            command = page.evaluate("window.studio.lastExport.command")
            links = page.locator("#downloads a").count()
            assert links > 3 * END
            assert "--prompts studio_export/prompts.json" in page.text_content("#command")

            page.keyboard.press("Space")  # play from frame 16, then pause
            page.wait_for_function("window.studio.frame >= 18")
            page.keyboard.press("Space")
            page.wait_for_function("window.studio.playing === false")
            _settle(page)
            assert 18 <= page.evaluate("window.studio.frame") < 149

            page.reload()  # a reloaded page shows what the server holds: objects and results
            page.wait_for_function("window.studio && window.studio.ready")
            _settle(page)
            assert page.locator("#strips .strip").count() == 3
            layer = _mask_layer(page)
            assert iou(_object_mask(page, layer, 2), truth(0, 2)) > 0.8
            assert "studio_export/prompts.json" in page.text_content("#command")
        finally:
            browser.close()
    assert errors == []

    # Replay the saved prompts headless with the command the page shows (the CLI's own entry
    # point, in this process), into another folder.
    words = shlex.split(command)
    assert words[:2] == ["segany-video", "track"]
    words[words.index("--out") + 1] = "cli_out"
    from segany_video.cli import main as cli

    monkeypatch.chdir(root)  # the command is given relative to the root
    assert cli(words[1:]) == 0
    for object_id in (1, 2, 3):
        for index in range(END):
            name = f"png/{object_id}/{index:05d}.png"
            ours = cv2.imread(str(root / "studio_export" / name), cv2.IMREAD_GRAYSCALE)
            theirs = cv2.imread(str(root / "cli_out" / name), cv2.IMREAD_GRAYSCALE)
            assert ours is not None and np.array_equal(ours, theirs), name
    # Beyond the masks: every file the CLI wrote (mask videos, overlay, tracks.json) is the same,
    # but for tracks.json's video path (absolute from the page, as typed on the command line).
    cli_files = sorted(p.relative_to(root / "cli_out") for p in (root / "cli_out").rglob("*")
                       if p.is_file() and p.name != "run.json")  # fmt: skip
    assert len(cli_files) == 3 * END + 3 + 2  # png, masks/<id>.mkv, overlay.mp4, tracks.json
    for rel in cli_files:
        ours, theirs = (
            (root / "studio_export" / rel).read_bytes(),
            (root / "cli_out" / rel).read_bytes(),
        )
        if rel.name == "tracks.json":
            ours, theirs = json.loads(ours), json.loads(theirs)
            assert ours["video"].pop("source") == str((root / "sample" / "clip.mp4").resolve())
            assert theirs["video"].pop("source") == "sample/clip.mp4"
        assert ours == theirs, rel
