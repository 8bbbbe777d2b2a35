"""``segany-video studio`` as a user starts it: a real process, its printed URL, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from segany_video.studio.command import main, studio_root
from segany_video.studio.server import missing_dependencies

needs_extra = pytest.mark.skipif(
    missing_dependencies() is not None,
    reason="the studio extra is missing: pip install -e '.[studio]'",
)
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@needs_extra
def test_the_command_serves_the_printed_url_and_stops_on_ctrl_c(root):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-m", "segany_video.studio.command", "videos/clip.mp4",
         "--root", str(root), "--port", "0", "--no-browser"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.startswith("segany-video studio: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1].strip()
        base, token = url.split("/?token=")
        with urllib.request.urlopen(f"{base}/api/state?token={token}", timeout=30) as response:
            state = response.read().decode()
        assert '"path":"videos/clip.mp4"' in state  # INPUT is open at once
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/state", timeout=30)
        assert refused.value.code == 401
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0


@needs_extra
def test_input_outside_the_root_is_refused(root, tmp_path, capsys):
    other = tmp_path / "elsewhere.mp4"
    other.write_bytes(b"")
    code = main([str(other), "--root", str(root / "videos"), "--no-browser", "--port", "0"])
    assert code == 2 and "outside --root" in capsys.readouterr().err


def test_the_root_defaults_to_the_inputs_folder_outside_the_current_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert studio_root(None, None) == tmp_path.resolve()
    assert studio_root(None, "a/b.mp4") == tmp_path.resolve()
    assert studio_root(None, "/elsewhere/x.mp4") == Path("/elsewhere")


def test_a_missing_extra_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert "pip install 'segany-video[studio]'" in missing_dependencies()
    assert main(["--no-browser"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
