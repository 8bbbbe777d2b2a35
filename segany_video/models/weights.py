"""The weights cache: list, download (resumable, digest-checked), verify, locate.

The ``segany-video weights`` command over these lives in :mod:`segany_video.cli.weights`.

Downloads go to ``<cache>/<file>.part`` and are renamed to ``<cache>/<file>`` only once complete
and matching the registry's sha256, so a file under its final name is always whole. An
interrupted download resumes from the ``.part`` with an HTTP Range request, both within one call
(``retries``) and across calls. Nothing here runs at import; nothing downloads unless asked.

``SEGANY_VIDEO_WEIGHTS_URL`` replaces the official host with a base URL (a mirror, or a local
server in tests): the file is fetched from ``<base>/<file name>``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from segany_video import __version__
from segany_video.errors import (
    DigestMismatchError,
    DownloadError,
    ModelNotFoundError,
)
from segany_video.models.checkpoint import file_sha256
from segany_video.models.registry import (
    MODEL_SPECS,
    SKIP_DIGEST_ENV,
    ModelSpec,
    cache_dir,
    cached_path,
    digest_checks_disabled,
    get_spec,
    remember_sha256,
    spec_for_file_name,
)

__all__ = [
    "WEIGHTS_URL_ENV",
    "ModelListing",
    "cache_dir",
    "cached_path",
    "download",
    "list_models",
    "verify",
]

WEIGHTS_URL_ENV = "SEGANY_VIDEO_WEIGHTS_URL"
_CHUNK = 1 << 20
_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ModelListing:
    """A registry entry and the state of its file in the cache.

    Attributes:
        spec: the registry entry.
        path: where its weights live in the cache; None for weight-free engines.
        downloaded: whether that file exists (weight-free engines count as ready).
    """

    spec: ModelSpec
    path: Path | None
    downloaded: bool


def list_models() -> list[ModelListing]:
    """Every registry model with its cache path and whether it is downloaded."""
    listings = []
    for spec in MODEL_SPECS.values():
        path = cached_path(spec.name) if spec.needs_weights else None
        listings.append(ModelListing(spec, path, path is None or path.is_file()))
    return listings


def _source_url(spec: ModelSpec, url_override: str | None) -> str:
    if url_override:
        return url_override
    base = os.environ.get(WEIGHTS_URL_ENV)
    if base:
        return f"{base.rstrip('/')}/{spec.file_name}"
    assert spec.url is not None
    return spec.url


class _Interrupted(Exception):
    """A transfer that stopped early but may resume from the bytes already written."""


def _hash_existing(part: Path) -> hashlib._Hash:
    digest = hashlib.sha256()
    with part.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest


def _copy_body(resp: BinaryIO, out: BinaryIO, digest: hashlib._Hash, bar: object) -> None:
    try:
        while chunk := resp.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))  # type: ignore[attr-defined]
    except (OSError, http.client.HTTPException) as exc:
        raise _Interrupted(str(exc)) from exc


def _range_start(headers: object) -> int | None:
    """First byte of a 206 response, from ``Content-Range: bytes START-END/TOTAL``."""
    value = headers.get("Content-Range", "")  # type: ignore[attr-defined]
    unit, _, span = value.partition(" ")
    start = span.split("-", 1)[0]
    return int(start) if unit == "bytes" and start.isdigit() else None


def _transfer_once(
    url: str, part: Path, expected_size: int | None, progress: bool
) -> hashlib._Hash:
    """Fetch the rest of ``url`` into ``part`` (resuming at its size); the sha256 of all of it.

    Raises:
        _Interrupted: the connection failed or ended early; ``part`` holds what arrived.
        DownloadError: an HTTP error that a retry would not fix.
    """
    from tqdm import tqdm

    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"segany-video/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # Nothing left to send: the part already holds the whole file (or more, which the
            # digest check refuses).
            return _hash_existing(part)
        raise DownloadError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Interrupted(f"cannot reach {url}: {exc}") from exc
    with resp:
        if resp.status == 206:
            if _range_start(resp.headers) != offset:
                raise DownloadError(
                    f"{url} answered a request for bytes {offset}- with "
                    f"'{resp.headers.get('Content-Range')}'; delete {part} and try again."
                )
            digest = _hash_existing(part) if offset else hashlib.sha256()
            mode = "ab" if offset else "wb"
        else:  # a server that ignores Range sends the whole file again
            digest = hashlib.sha256()
            offset = 0
            mode = "wb"
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else expected_size
        with (
            part.open(mode) as out,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                disable=not progress,
            ) as bar,
        ):
            _copy_body(resp, out, digest, bar)
            out.flush()
            os.fsync(out.fileno())
    received = part.stat().st_size
    if total is not None and received < total:
        raise _Interrupted(f"connection closed after {received:,} of {total:,} bytes")
    return digest


def download(
    name: str,
    *,
    url_override: str | None = None,
    progress: bool = True,
    retries: int = 3,
) -> Path:
    """Download the weights of registry model ``name`` into the cache and check their sha256.

    A model whose digest the registry does not know (``sha256`` None) is downloaded unchecked.

    An existing complete file with the right digest is kept as is. A partial ``.part`` from an
    earlier attempt is resumed.

    Args:
        name: registry name, e.g. ``"sam_vit_b"``.
        url_override: fetch from this URL instead of the official one (or
            ``$SEGANY_VIDEO_WEIGHTS_URL/<file>``).
        progress: show a tqdm progress bar on stderr.
        retries: how many times an interrupted transfer is resumed within this call.

    Returns:
        The path of the verified file in the cache.

    Raises:
        ModelNotFoundError: unknown or weight-free model name.
        DigestMismatchError: the downloaded bytes have another sha256 (the partial file is
            deleted); set ``SEGANY_VIDEO_SKIP_DIGEST=1`` to keep such a file.
        DownloadError: network or HTTP failure after the retries; the ``.part`` is kept so a
            later call resumes.
    """
    spec = get_spec(name)
    if not spec.needs_weights:
        raise ModelNotFoundError(f"model {name!r} is weight-free: there is nothing to download")
    dest = cached_path(name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and spec.size_bytes in (None, dest.stat().st_size):
        # A file under its final name was complete when it was renamed there.
        if spec.sha256 is None:
            return dest
        digest = file_sha256(dest)
        if digest == spec.sha256:
            remember_sha256(dest, digest)
            return dest
    url = _source_url(spec, url_override)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            hasher = _transfer_once(url, part, spec.size_bytes, progress)
            break
        except _Interrupted as exc:
            if attempt == retries:
                raise DownloadError(
                    f"downloading {spec.name} from {url} failed after {retries + 1} attempts "
                    f"({exc}); {part.stat().st_size if part.exists() else 0:,} bytes are kept in "
                    f"{part} and the next `segany-video weights download {spec.name}` resumes."
                ) from exc
    actual = hasher.hexdigest()
    if spec.sha256 is not None and actual != spec.sha256 and not digest_checks_disabled():
        size = part.stat().st_size
        part.unlink()
        raise DigestMismatchError(
            f"the file downloaded from {url} ({size:,} bytes; official size "
            f"{spec.size_text}) is not the {spec.name} weights the registry knows:\n"
            f"  expected sha256 {spec.sha256}\n  actual sha256   {actual}\n"
            f"It was deleted. If you trust this source (the expected digest comes from "
            f"{spec.sha256_source}), download again with {SKIP_DIGEST_ENV}=1 set."
        )
    os.replace(part, dest)
    remember_sha256(dest, actual)
    return dest


def verify(path: str | os.PathLike[str]) -> tuple[str | None, bool, str]:
    """Check a weights file against the registry.

    The entry is found by the file's name, else by its digest.

    Args:
        path: a checkpoint file.

    Returns:
        ``(registry name or None, digest matches, sha256 hex)``.

    Raises:
        ModelNotFoundError: the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"no such file: {path}")
    digest = file_sha256(path)
    spec = spec_for_file_name(path.name)
    if spec is None:
        spec = next((s for s in MODEL_SPECS.values() if s.sha256 == digest), None)
    if spec is None:
        return None, False, digest
    return spec.name, digest == spec.sha256, digest
