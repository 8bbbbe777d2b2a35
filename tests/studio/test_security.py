"""Each security rule of the studio, one refused request per case."""

from __future__ import annotations

import os

import pytest

pytest.importorskip(
    "starlette", reason="the studio extra is not installed: pip install -e '.[studio]'"
)
pytest.importorskip("httpx", reason="httpx (Starlette's test client) is not installed")

from starlette.testclient import TestClient
from studio_support import TOKEN

from segany_video.studio.app import create_app
from segany_video.studio.command import main
from segany_video.studio.files import PathRefusedError, RootFolder
from segany_video.studio.server import check_host, is_local


@pytest.fixture
def anonymous(session):
    with TestClient(create_app(session, TOKEN)) as c:
        yield c


@pytest.mark.parametrize(
    "headers, params",
    [({}, {}), ({"X-Studio-Token": "wrong"}, {}), ({}, {"token": TOKEN[:-1]})],
    ids=["missing", "wrong-header", "wrong-query"],
)
def test_api_calls_need_the_token(anonymous, headers, params):
    for method, path in [("GET", "/api/state"), ("GET", "/api/files"), ("POST", "/api/open"),
                         ("GET", "/api/frame/0"), ("GET", "/api/download")]:  # fmt: skip
        response = anonymous.request(method, path, headers=headers, params=params)
        assert response.status_code == 401, (method, path)
        assert "token" in response.json()["error"]


def test_the_token_in_the_query_is_accepted(anonymous):
    assert anonymous.get("/api/state", params={"token": TOKEN}).status_code == 200


def test_the_page_itself_holds_no_secret(anonymous):
    page = anonymous.get("/")
    assert page.status_code == 200 and TOKEN not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


@pytest.fixture
def outside(root):
    """A file next to the root, and a symlink inside the root pointing at it."""
    secret = root.parent / "secret.mp4"
    secret.write_bytes(b"not for the page")
    os.symlink(secret, root / "videos" / "link.mp4")
    os.symlink(root.parent, root / "up")
    return secret


@pytest.mark.parametrize(
    "path",
    [
        "../secret.mp4",
        "videos/../../secret.mp4",
        "/etc/passwd",
        "videos/link.mp4",
        "up/secret.mp4",
        "C:/Windows/win.ini",
        "videos/\x00clip.mp4",
    ],
)
def test_files_outside_the_root_are_refused(client, outside, path):
    for response in (
        client.post("/api/open", json={"path": path}),
        client.get("/api/download", params={"path": path}),
        client.get("/api/files", params={"dir": path}),
    ):
        assert response.status_code == 403, (path, response.text)
        assert "Traceback" not in response.text


def test_listing_hides_symlinks_out_of_the_root(client, outside):
    names = [
        e["name"] for e in client.get("/api/files", params={"dir": "videos"}).json()["entries"]
    ]
    assert names == ["clip.mp4"]
    assert "up" not in [e["name"] for e in client.get("/api/files").json()["entries"]]


def test_export_folder_outside_the_root_is_refused(opened, outside):
    for folder in ("../out", "/tmp/out", "up/out"):
        response = opened.post("/api/export", json={"formats": ["png"], "folder": folder})
        assert response.status_code == 403, folder


def test_root_folder_resolves_inside_only(root):
    folder = RootFolder(root)
    assert folder.resolve("videos/clip.mp4") == (root / "videos" / "clip.mp4").resolve()
    with pytest.raises(PathRefusedError, match="does not exist"):
        folder.resolve("videos/none.mp4")
    assert folder.resolve("new/out", must_exist=False).parent == (root / "new").resolve()


def test_uploads_over_the_limit_are_refused(session):
    with TestClient(create_app(session, TOKEN, max_body=1000),
                    headers={"X-Studio-Token": TOKEN}) as c:  # fmt: skip
        response = c.post("/api/mask", json={"object": 1, "frame": 0, "png": "A" * 2000})
        assert response.status_code == 413 and "limit" in response.json()["error"]


@pytest.mark.parametrize(
    "body, message",
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"frame": "zero", "x": 1, "y": 1}', "'frame' must be int"),
        (b'{"frame": 0, "x": 1}', "needs 'y'"),
        (b'{"frame": 0, "x": true, "y": 1}', "'x' must be float"),
    ],
)
def test_malformed_requests_get_one_clear_message(opened, body, message):
    response = opened.post("/api/click", content=body)
    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    "method, path, body, status, message",
    [
        ("GET", "/api/frame/150", None, 400, "outside the video"),
        ("POST", "/api/click", {"frame": 0, "x": 9999, "y": 1}, 400, "outside the 640x360"),
        ("POST", "/api/mask", {"object": 1, "frame": 0, "png": "%%%"}, 400, "base64"),
        ("POST", "/api/choose", {"object": 1, "frame": 0, "index": 0}, 400, "no candidate"),
        ("POST", "/api/export", {"formats": ["png"], "folder": "o"}, 409, "Track first"),
        ("POST", "/api/track", {}, None, None),
        ("GET", "/api/nothing", None, 404, "no such"),
    ],
)
def test_errors_are_json_messages(opened, method, path, body, status, message):
    response = opened.request(method, path, json=body)
    if status is None:  # tracking with no prompt: the job fails with a message, not a crash
        from studio_support import wait_job

        progress = wait_job(opened)
        assert progress["state"] == "failed" and "no object has a prompt" in progress["message"]
        return
    assert response.status_code == status, response.text
    assert message in response.json()["error"] and "Traceback" not in response.text


def test_a_mask_upload_is_decoded_as_an_image_only(opened):
    import base64
    import pickle

    payload = base64.b64encode(pickle.dumps({"a": 1})).decode()
    opened.post("/api/objects", json={})
    response = opened.post("/api/mask", json={"object": 1, "frame": 0, "png": payload})
    assert response.status_code == 400 and "not an image" in response.json()["error"]


@pytest.mark.parametrize(
    "host, local",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.4", False),
        ("example.org", False),
    ],
)
def test_only_loopback_hosts_are_local(host, local):
    assert is_local(host) is local


def test_a_remote_host_needs_allow_remote(capsys, root):
    assert main(["--host", "0.0.0.0", "--root", str(root), "--no-browser"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    check_host("0.0.0.0", allow_remote=True)  # allowed when asked for
