"""``segany-video studio [INPUT] [--model M] [--device D] [--root DIR] [--host H] [--port N]
[--no-browser] [--allow-remote]``: start the local page and print its URL (with the token)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from segany_video.errors import SegAnyVideoError, UserInputError
from segany_video.studio.server import bind_socket, check_host, missing_dependencies, page_url

DEFAULT_PORT = 8765


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segany-video studio",
        description="A local web page to click objects, preview masks, track, correct and "
        "export. Files are read and written only under --root.",
    )
    parser.add_argument("input", nargs="?", help="a video to open at once (under --root)")
    parser.add_argument("--model", help="engine: registry name or checkpoint (default: classic)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--root", type=Path, help="the only folder the page may read and "
                        "write (default: the current folder, or INPUT's folder)")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --host other machines can reach")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the studio until Ctrl-C; returns the exit code (2 for a mistake in the options)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    problem = missing_dependencies()
    if problem is not None:
        print(f"segany-video studio: error: {problem}", file=sys.stderr)
        return 2
    try:
        return _serve(args)
    except KeyboardInterrupt:
        return 0
    except UserInputError as exc:
        print(f"segany-video studio: error: {exc}", file=sys.stderr)
        return 2
    except SegAnyVideoError as exc:
        print(f"segany-video studio: error: {exc}", file=sys.stderr)
        return 1


def studio_root(root: Path | None, input_path: str | None) -> Path:
    """``--root``, else the current folder, else (INPUT outside it) INPUT's folder."""
    if root is not None:
        return root
    cwd = Path.cwd().resolve()
    if input_path is not None:
        video = Path(input_path).resolve()
        if cwd not in video.parents:
            return video.parent
    return cwd


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from segany_video.segmenter import VideoSegmenter
    from segany_video.studio.app import create_app, make_token
    from segany_video.studio.files import RootFolder
    from segany_video.studio.session import StudioSession

    check_host(args.host, args.allow_remote)
    if not 0 <= args.port <= 65535:
        raise UserInputError(f"--port {args.port} must be 0..65535")
    root = RootFolder(studio_root(args.root, args.input))
    # A checkpoint path is shown absolute in the equivalent command, which runs from the root.
    model_flag = args.model
    if model_flag is not None and Path(model_flag).exists():
        model_flag = str(Path(model_flag).resolve())
    segmenter = VideoSegmenter(model=args.model, device=args.device)
    session = StudioSession(root, segmenter, model_flag, args.device)
    if args.input is not None:
        video = Path(args.input).resolve()
        if root.path not in video.parents:
            raise UserInputError(f"{args.input} is outside --root {root.path}")
        session.open(os.path.relpath(video, root.path).replace(os.sep, "/"))
    token = make_token()
    app = create_app(session, token)
    sock = bind_socket(args.host, args.port)
    url = page_url(args.host, sock.getsockname()[1], token)
    print(f"segany-video studio: {url}", flush=True)
    print(f"  files under {root.path}; Ctrl-C to stop", flush=True)
    if not args.no_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        session.close()
        sock.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
