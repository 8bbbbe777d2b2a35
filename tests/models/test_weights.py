"""The weights cache against a local HTTP server on 127.0.0.1 (nothing leaves the machine).

The server speaks just enough HTTP/1.1 for urllib: whole-file GETs, ``Range: bytes=N-``
requests answered with 206, and on demand a response cut off half-way (the connection is
closed after sending part of the promised body), a server that ignores Range, or wrong bytes.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from segany_video import cli
from segany_video.errors import DigestMismatchError, DownloadError, ModelNotFoundError
from segany_video.models import registry, weights
from segany_video.models.registry import MODEL_SPECS, ModelSpec

PAYLOAD = os.urandom(3 * 1024 * 1024 + 12345)  # spans several 1 MiB read chunks
NAME = "tiny_test"
FILE = "tiny_test.bin"


class FileServer(http.server.ThreadingHTTPServer):
    """Serves ``payload`` at ``/<FILE>`` and records each request's Range header."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.payload = PAYLOAD
        self.cuts = 0  # how many upcoming responses to cut off half-way
        self.ignore_range = False
        self.ranges: list[str | None] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class RangeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FileServer

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        srv = self.server
        if self.path != f"/{FILE}":
            self.send_error(404)
            return
        range_header = self.headers.get("Range")
        srv.ranges.append(range_header)
        data, start = srv.payload, 0
        if range_header and not srv.ignore_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if srv.cuts > 0:
            srv.cuts -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[FileServer]:
    srv = FileServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def local_only(monkeypatch, tmp_path) -> Path:
    """A private cache, a registry entry for the test file, and a guard against real hosts."""
    home = tmp_path / "home"
    monkeypatch.setenv(registry.HOME_ENV, str(home))
    monkeypatch.delenv(registry.SKIP_DIGEST_ENV, raising=False)
    monkeypatch.delenv(weights.WEIGHTS_URL_ENV, raising=False)
    spec = ModelSpec(
        NAME,
        "a small test file",
        lambda device: None,
        FILE,
        "http://example.invalid/tiny_test.bin",
        len(PAYLOAD),
        hashlib.sha256(PAYLOAD).hexdigest(),
    )
    monkeypatch.setitem(MODEL_SPECS, NAME, spec)
    real_urlopen = urllib.request.urlopen

    def guarded(request, *args, **kwargs):
        url = request.full_url if isinstance(request, urllib.request.Request) else request
        host = urllib.parse.urlsplit(url).hostname
        assert host == "127.0.0.1", f"a test tried to reach {url}"
        return real_urlopen(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", guarded)
    return home / "weights"


def _part(cache: Path) -> Path:
    return cache / (FILE + ".part")


def test_download_into_the_cache(server, local_only, monkeypatch) -> None:
    monkeypatch.setenv(weights.WEIGHTS_URL_ENV, server.base_url + "/")
    path = weights.download(NAME, progress=False)
    assert path == local_only / FILE == weights.cached_path(NAME)
    assert path.read_bytes() == PAYLOAD
    assert not _part(local_only).exists()
    assert server.ranges == [None]


def test_download_resumes_after_a_cut_connection(server, local_only) -> None:
    server.cuts = 1
    path = weights.download(NAME, url_override=f"{server.base_url}/{FILE}", progress=False)
    assert path.read_bytes() == PAYLOAD
    half = len(PAYLOAD) // 2
    assert server.ranges == [None, f"bytes={half}-"]


def test_interrupted_download_leaves_only_a_part_file_and_resumes_later(server, local_only) -> None:
    url = f"{server.base_url}/{FILE}"
    server.cuts = 1
    with pytest.raises(DownloadError, match=r"bytes are kept in .*\.part.*resumes"):
        weights.download(NAME, url_override=url, progress=False, retries=0)
    assert not (local_only / FILE).exists()
    assert _part(local_only).stat().st_size == len(PAYLOAD) // 2
    # A cut during the resumed transfer too: still resumes from where it stopped.
    server.cuts = 1
    path = weights.download(NAME, url_override=url, progress=False, retries=1)
    assert path.read_bytes() == PAYLOAD
    first = len(PAYLOAD) // 2
    second = first + (len(PAYLOAD) - first) // 2
    assert server.ranges == [None, f"bytes={first}-", f"bytes={second}-"]


def test_server_ignoring_range_restarts_cleanly(server, local_only) -> None:
    server.cuts, server.ignore_range = 1, True
    path = weights.download(NAME, url_override=f"{server.base_url}/{FILE}", progress=False)
    assert path.read_bytes() == PAYLOAD


def test_complete_part_from_an_earlier_run_is_verified_and_renamed(server, local_only) -> None:
    _part(local_only).parent.mkdir(parents=True)
    _part(local_only).write_bytes(PAYLOAD)
    path = weights.download(NAME, url_override=f"{server.base_url}/{FILE}", progress=False)
    assert path.read_bytes() == PAYLOAD
    assert server.ranges == [f"bytes={len(PAYLOAD)}-"]  # answered 416: nothing left to send


def test_digest_mismatch_is_refused_and_nothing_is_kept(server, local_only) -> None:
    server.payload = bytes(len(PAYLOAD))
    with pytest.raises(DigestMismatchError) as info:
        weights.download(NAME, url_override=f"{server.base_url}/{FILE}", progress=False)
    message = str(info.value)
    assert hashlib.sha256(PAYLOAD).hexdigest() in message
    assert hashlib.sha256(server.payload).hexdigest() in message
    assert "SEGANY_VIDEO_SKIP_DIGEST=1" in message
    assert not (local_only / FILE).exists() and not _part(local_only).exists()


def test_digest_override_keeps_the_file(server, local_only, monkeypatch) -> None:
    server.payload = bytes(100)
    monkeypatch.setenv(registry.SKIP_DIGEST_ENV, "1")
    path = weights.download(NAME, url_override=f"{server.base_url}/{FILE}", progress=False)
    assert path.read_bytes() == bytes(100)


def test_wrong_cached_file_is_replaced_atomically(server, local_only, monkeypatch) -> None:
    dest = local_only / FILE
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"stale")
    renames: list[tuple[Path, Path, bytes]] = []
    real_replace = os.replace

    def spy(src, dst):
        # What the final name would show at the instant of the rename.
        renames.append((Path(src), Path(dst), Path(dst).read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(weights.os, "replace", spy)
    weights.download(NAME, url_override=f"{server.base_url}/{FILE}", progress=False)
    assert [(s.name, d.name, old) for s, d, old in renames] == [(FILE + ".part", FILE, b"stale")]
    assert dest.read_bytes() == PAYLOAD


def test_verified_download_is_not_fetched_again(server, local_only) -> None:
    url = f"{server.base_url}/{FILE}"
    weights.download(NAME, url_override=url, progress=False)
    weights.download(NAME, url_override=url, progress=False)
    assert len(server.ranges) == 1


def test_http_errors_are_download_errors(server) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        weights.download(NAME, url_override=f"{server.base_url}/missing.bin", progress=False)


def test_weight_free_and_unknown_models_have_nothing_to_download() -> None:
    with pytest.raises(ModelNotFoundError, match="weight-free"):
        weights.download("classic")
    with pytest.raises(ModelNotFoundError, match="unknown model"):
        weights.download("sam_vit_q")


def test_verify_finds_the_entry_by_name_or_digest(tmp_path) -> None:
    good = tmp_path / FILE
    good.write_bytes(PAYLOAD)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert weights.verify(good) == (NAME, True, digest)
    renamed = tmp_path / "renamed.bin"
    renamed.write_bytes(PAYLOAD)
    assert weights.verify(renamed) == (NAME, True, digest)
    bad = tmp_path / "mobile_sam.pt"
    bad.write_bytes(b"x")
    assert weights.verify(bad) == ("mobile_sam", False, hashlib.sha256(b"x").hexdigest())
    other = tmp_path / "other.bin"
    other.write_bytes(b"y")
    assert weights.verify(other) == (None, False, hashlib.sha256(b"y").hexdigest())


def test_list_models_reports_cache_state(server, local_only) -> None:
    listed = {m.spec.name: m for m in weights.list_models()}
    assert set(listed) == set(MODEL_SPECS)
    assert listed["classic"].downloaded and listed["classic"].path is None
    assert not listed[NAME].downloaded
    weights.download(NAME, url_override=f"{server.base_url}/{FILE}", progress=False)
    assert {m.spec.name: m for m in weights.list_models()}[NAME].downloaded


# -- the `segany-video weights` command ----------------------------------------------------


def test_command_download_path_verify_list(server, local_only, monkeypatch, capsys) -> None:
    assert cli.main(["weights", "path", NAME]) == 1
    assert "weights download tiny_test" in capsys.readouterr().err
    monkeypatch.setenv(weights.WEIGHTS_URL_ENV, server.base_url)
    assert cli.main(["weights", "download", NAME, "--no-progress"]) == 0
    dest = local_only / FILE
    assert capsys.readouterr().out.strip() == str(dest)
    assert cli.main(["weights", "path", NAME]) == 0
    assert capsys.readouterr().out.strip() == str(dest)
    assert cli.main(["weights", "verify", str(dest)]) == 0
    assert "OK, tiny_test" in capsys.readouterr().out
    assert cli.main(["weights", "verify", NAME]) == 0  # a name verifies its cached file
    capsys.readouterr()
    assert cli.main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert str(local_only) in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "downloaded" in lines[NAME] and "not downloaded" in lines["sam_vit_h"]
    assert "no weights" in lines["classic"]


def test_command_reports_refusals(server, local_only, monkeypatch, capsys, tmp_path) -> None:
    server.payload = b"not the file"
    monkeypatch.setenv(weights.WEIGHTS_URL_ENV, server.base_url)
    assert cli.main(["weights", "download", NAME, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("segany-video: error: ") and "sha256" in err
    bad = tmp_path / "sam_vit_b_01ec64.pth"
    bad.write_bytes(b"truncated")
    assert cli.main(["weights", "verify", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "MISMATCH for sam_vit_b" in err and MODEL_SPECS["sam_vit_b"].sha256 in err
    assert cli.main(["weights", "verify", str(tmp_path / "absent.pth")]) == 2


def test_an_unknown_digest_is_downloaded_unchecked_and_said_so(
    server, local_only, monkeypatch, capsys
) -> None:
    """An entry without sha256 (and size) downloads, loads unchecked, and every listing says so."""
    unknown = ModelSpec(NAME, "a file of unknown digest", lambda device: None, FILE, None)
    monkeypatch.setitem(MODEL_SPECS, NAME, unknown)
    monkeypatch.setenv(weights.WEIGHTS_URL_ENV, server.base_url)
    dest = weights.download(NAME, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert weights.download(NAME, progress=False) == dest  # kept, nothing to compare
    assert len(server.ranges) == 1
    assert cli.main(["weights", "list"]) == 0
    listing = capsys.readouterr().out
    block = listing[listing.index(NAME) :].splitlines()[:2]
    assert "size unknown" in block[0]
    assert "sha256 unknown: the file is not checked" in block[1]
    assert cli.main(["weights", "verify", str(dest)]) == 0
    assert "knows no digest, so not checked" in capsys.readouterr().out
