"""``segany-video weights list | download NAME | verify PATH | path NAME``: the weights cache."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from segany_video.models.registry import (
    MODEL_SPECS,
    ModelSpec,
    cache_dir,
    cached_path,
    get_spec,
)
from segany_video.models.weights import WEIGHTS_URL_ENV, download, list_models, verify

__all__ = ["main"]


def _digest_text(spec: ModelSpec) -> str:
    if spec.sha256 is None:
        return "sha256 unknown: the file is not checked"
    return f"sha256 from {spec.sha256_source}"


def _list(_: argparse.Namespace) -> int:
    print(f"weights cache: {cache_dir()}")
    listings = list_models()
    width = max(len(item.spec.name) for item in listings)
    for item in listings:
        spec = item.spec
        if not spec.needs_weights:
            state, size = "ready (no weights)", "-"
        else:
            state = "downloaded" if item.downloaded else "not downloaded"
            size = spec.size_text
        print(f"  {spec.name:<{width}} {size:>12}  {state:<18} {spec.description}")
        if spec.needs_weights:
            print(f"  {'':<{width}} {'':>12}  {_digest_text(spec)}")
    return 0


def _download(args: argparse.Namespace) -> int:
    print(download(args.name, url_override=args.url, progress=not args.no_progress))
    return 0


def _verify(args: argparse.Namespace) -> int:
    target = Path(args.path)
    if not target.exists() and args.path in MODEL_SPECS:
        target = cached_path(args.path)
    name, ok, digest = verify(target)
    if name is None:
        print(f"{target}: sha256 {digest} matches no registry model", file=sys.stderr)
        return 1
    expected = get_spec(name).sha256
    if expected is None:
        print(f"{target}: {name}, sha256 {digest}; the registry knows no digest, so not checked")
        return 0
    if ok:
        print(f"{target}: OK, {name} (sha256 {digest})")
        return 0
    print(
        f"{target}: MISMATCH for {name}\n  expected sha256 {expected}\n  actual sha256   {digest}",
        file=sys.stderr,
    )
    return 1


def _path(args: argparse.Namespace) -> int:
    path = cached_path(args.name)
    print(path)
    if not path.is_file():
        print(
            f"not downloaded yet: run `segany-video weights download {args.name}`",
            file=sys.stderr,
        )
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segany-video weights", description="Manage the model weights cache."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list models and whether their weights are downloaded")
    downloadable = [s.name for s in MODEL_SPECS.values() if s.needs_weights]
    p = sub.add_parser("download", help="download a model's weights into the cache")
    p.add_argument("name", choices=downloadable)
    p.add_argument("--url", help=f"fetch from this URL (or set {WEIGHTS_URL_ENV}=BASE_URL)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = sub.add_parser("verify", help="check a weights file's sha256 against the registry")
    p.add_argument("path", help="a checkpoint file (or a registry name: its cached file)")
    p = sub.add_parser("path", help="print where a model's weights live in the cache")
    p.add_argument("name", choices=downloadable)
    return parser


_COMMANDS = {"list": _list, "download": _download, "verify": _verify, "path": _path}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one weights subcommand.

    Returns:
        0 on success; 1 for a failed check or a file not downloaded yet.

    Raises:
        SegAnyVideoError: unknown files, download and digest failures; ``segany-video`` turns
            them into one ``segany-video: error: ...`` line and exit 2 (user input) or 1.
    """
    args = _parser().parse_args(argv)
    return _COMMANDS[args.command](args)
