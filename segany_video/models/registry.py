"""Model registry: names -> builders and official weight files, and :func:`build_model`.

:data:`MODEL_SPECS` is the one table of model names, files, URLs, sizes and digests
(``segany-video weights list`` prints it). A new engine is one more :class:`ModelSpec` entry.

Meta publishes no digests next to its download links. Each entry's ``sha256_source`` says where
its digest comes from: third-party manifests for SAM 1 and MobileSAM; for SAM 2 / 2.1 the Git
LFS pointers of Hugging Face copies of the files (Meta's own ``facebook/`` repositories where they
exist, else independent mirrors that agree). An entry whose digest is unknown has ``sha256`` None:
its file is not checked, and ``weights list`` says so. A file whose name is an official one but
whose sha256 differs from a known digest is refused; set ``SEGANY_VIDEO_SKIP_DIGEST=1`` or pass
``verify=False`` to use it anyway.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from segany_video.errors import (
    CheckpointError,
    DigestMismatchError,
    ModelNotFoundError,
)
from segany_video.models.base import EngineInfo, PromptableSegmenter
from segany_video.models.checkpoint import (
    detect_variant,
    file_sha256,
    has_derived_buffers,
    load_state_dict_strict,
    read_state_dict,
)
from segany_video.runtime.device import resolve_device

if TYPE_CHECKING:
    from segany_video.models.classic.settings import ClassicSettings

HOME_ENV = "SEGANY_VIDEO_HOME"
SKIP_DIGEST_ENV = "SEGANY_VIDEO_SKIP_DIGEST"
DEFAULT_MODEL = "classic"


def _build_classic(device: torch.device, settings: ClassicSettings | None = None) -> Any:
    from segany_video.models.classic import build_classic

    return build_classic(device, settings)


def _sam_vit_builder(variant: str) -> Callable[[torch.device], Any]:
    def build(device: torch.device) -> Any:
        from segany_video.models.sam.variants import build_sam_vit

        return build_sam_vit(variant).to(device)

    return build


def _build_mobile_sam(device: torch.device) -> Any:
    from segany_video.models.sam.mobile_sam import build_mobile_sam

    return build_mobile_sam().to(device)


def _sam2_builder(variant: str) -> Callable[[torch.device], Any]:
    def build(device: torch.device) -> Any:
        from segany_video.models.sam2.image_engine import Sam2ImageSegmenter
        from segany_video.models.sam2.variants import build_sam2

        return build_sam2(variant, model_class=Sam2ImageSegmenter).to(device)

    return build


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Attributes:
        name: registry name, e.g. ``"sam_vit_b"``.
        description: one line for listings and :class:`EngineInfo`.
        builder: ``builder(device)`` returns the engine; for checkpoint models, the architecture
            with random weights (loaded afterwards by :func:`build_model`).
        file_name: official checkpoint file name, None for weight-free engines.
        url: official download URL.
        size_bytes: official file size, None where no trustworthy source gives it.
        sha256: hex digest of the official file, None where unknown (the file is then not
            checked).
        sha256_source: where ``sha256`` comes from.
    """

    name: str
    description: str
    builder: Callable[[torch.device], Any]
    file_name: str | None = None
    url: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    sha256_source: str | None = None

    @property
    def needs_weights(self) -> bool:
        return self.file_name is not None

    @property
    def size_text(self) -> str:
        """``"375 MB"``, or ``"size unknown"``."""
        return "size unknown" if self.size_bytes is None else f"{self.size_bytes / 1e6:,.0f} MB"


_META = "https://dl.fbaipublicfiles.com/segment_anything/"
_MANIFESTS = "third-party manifests"
_SAM2 = "https://dl.fbaipublicfiles.com/segment_anything_2/072824/"
_SAM2_1 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"
_HF_LFS = "Hugging Face LFS pointers (identical) of "
_SIZE_NAMES = {"tiny": "T", "small": "S", "base_plus": "B+", "large": "L"}


def _sam2_spec(
    version: str, size: str, size_bytes: int | None, sha256: str | None, source: str | None
) -> ModelSpec:
    """A SAM 2 (``version="sam2"``) or SAM 2.1 (``"sam2.1"``) Hiera entry."""
    name = f"{version}_hiera_{size}"
    base = _SAM2 if version == "sam2" else _SAM2_1
    label = "SAM 2" if version == "sam2" else "SAM 2.1"
    return ModelSpec(
        name,
        f"{label} Hiera-{_SIZE_NAMES[size]} (Meta)",
        _sam2_builder(name),
        f"{name}.pt",
        f"{base}{name}.pt",
        size_bytes,
        sha256,
        source,
    )


# SAM 2 / 2.1 digests and sizes, each from the Git LFS pointers named (identical wherever several
# copies are listed). sam2_hiera_small's pointer page gives its size only as "184 MB".
_SAM2_SPECS = (
    _sam2_spec(
        "sam2",
        "tiny",
        155_906_050,
        "65b50056e05bcb13694174f51bb6da89c894b57b75ccdf0ba6352c597c5d1125",
        "Hugging Face LFS pointer of Meta's repo facebook/sam2-hiera-tiny",
    ),
    _sam2_spec(
        "sam2",
        "small",
        None,
        "95949964d4e548409021d47b22712d5f1abf2564cc0c3c765ba599a24ac7dce3",
        "Hugging Face LFS pointer of Meta's repo facebook/sam2-hiera-small",
    ),
    _sam2_spec(
        "sam2",
        "base_plus",
        323_493_298,
        "d0bb7f236400a49669ffdd1be617959a8b1d1065081789d7bbff88eded3a8071",
        _HF_LFS + "mirrors merve/sam2-hiera-base-plus and grenoble/sam2",
    ),
    _sam2_spec(
        "sam2",
        "large",
        897_952_466,
        "7442e4e9b732a508f80e141e7c2913437a3610ee0c77381a66658c3a445df87b",
        _HF_LFS + "mirrors merve/sam2-hiera-large, supersolar/florence-sam-tencent and "
        "xmooo/SAM2Point2",
    ),
    _sam2_spec(
        "sam2.1",
        "tiny",
        156_008_466,
        "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69",
        _HF_LFS + "mirrors camenduru/sam2-1-hiera and Promethe-us/sam2",
    ),
    _sam2_spec(
        "sam2.1",
        "small",
        184_416_285,
        "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38",
        "Hugging Face LFS pointer of one mirror, camenduru/sam2-1-hiera, whose other three "
        "SAM 2.1 files match independent copies",
    ),
    _sam2_spec(
        "sam2.1",
        "base_plus",
        323_606_802,
        "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5",
        _HF_LFS + "mirrors camenduru/sam2-1-hiera and Promethe-us/sam2",
    ),
    _sam2_spec(
        "sam2.1",
        "large",
        898_083_611,
        "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318",
        _HF_LFS + "mirrors camenduru/sam2-1-hiera, tictag-io-demo/sam2.1-hiera-large and "
        "phenanthra/tmp",
    ),
)

MODEL_SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("classic", "classic engine, no learned weights", _build_classic),
        ModelSpec(
            "sam_vit_b",
            "Segment Anything ViT-B (Meta)",
            _sam_vit_builder("vit_b"),
            "sam_vit_b_01ec64.pth",
            _META + "sam_vit_b_01ec64.pth",
            375_042_383,
            "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
            _MANIFESTS,
        ),
        ModelSpec(
            "sam_vit_l",
            "Segment Anything ViT-L (Meta)",
            _sam_vit_builder("vit_l"),
            "sam_vit_l_0b3195.pth",
            _META + "sam_vit_l_0b3195.pth",
            1_249_524_607,
            "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
            _MANIFESTS,
        ),
        ModelSpec(
            "sam_vit_h",
            "Segment Anything ViT-H (Meta)",
            _sam_vit_builder("vit_h"),
            "sam_vit_h_4b8939.pth",
            _META + "sam_vit_h_4b8939.pth",
            2_564_550_879,
            "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
            _MANIFESTS,
        ),
        ModelSpec(
            "mobile_sam",
            "MobileSAM (TinyViT-5M encoder, SAM decoder)",
            _build_mobile_sam,
            "mobile_sam.pt",
            "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt",
            40_728_226,
            "6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f",
            _MANIFESTS,
        ),
        *_SAM2_SPECS,
    )
}


def get_spec(name: str) -> ModelSpec:
    """The registry entry for ``name``; :class:`ModelNotFoundError` listing the names if absent."""
    try:
        return MODEL_SPECS[name]
    except KeyError:
        raise ModelNotFoundError(
            f"unknown model {name!r}; known models: {', '.join(MODEL_SPECS)}"
        ) from None


def spec_for_file_name(file_name: str) -> ModelSpec | None:
    """The entry whose official file is called ``file_name``, if any."""
    return next((s for s in MODEL_SPECS.values() if s.file_name == file_name), None)


def cache_dir() -> Path:
    """Folder of downloaded weights: ``$SEGANY_VIDEO_HOME/weights``, else the user cache dir.

    Not created here; :func:`segany_video.models.weights.download` creates it.
    """
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / "weights"
    import platformdirs

    return Path(platformdirs.user_cache_dir("segany-video")) / "weights"


def cached_path(name: str) -> Path:
    """Where the weights of registry model ``name`` live in the cache (present or not)."""
    spec = get_spec(name)
    if spec.file_name is None:
        raise ModelNotFoundError(f"model {name!r} needs no weights file")
    return cache_dir() / spec.file_name


def _digest_memo_path() -> Path:
    return cache_dir() / "verified-digests.json"


def cached_sha256(path: Path) -> str:
    """sha256 of ``path``, remembered per (path, size, mtime) in the cache folder.

    Hashing a 2.5 GB ViT-H file takes seconds; the memo makes later loads of an unchanged
    file free. A memo that cannot be read or written only costs that time again.
    """
    stat = path.stat()
    stamp = [stat.st_size, stat.st_mtime_ns]
    try:
        memo = json.loads(_digest_memo_path().read_text())
    except (OSError, ValueError):
        memo = {}
    entry = memo.get(str(path.resolve())) if isinstance(memo, dict) else None
    if isinstance(entry, list) and entry[:2] == stamp and len(entry) == 3:
        return str(entry[2])
    digest = file_sha256(path)
    remember_sha256(path, digest)
    return digest


def remember_sha256(path: Path, digest: str) -> None:
    """Record ``path``'s digest (just computed elsewhere, e.g. while downloading) in the memo."""
    stat = path.stat()
    memo_path = _digest_memo_path()
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if not isinstance(memo, dict):
        memo = {}
    memo[str(path.resolve())] = [stat.st_size, stat.st_mtime_ns, digest]
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_name(f"{memo_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo, indent=1))
        tmp.replace(memo_path)
    except OSError:
        pass  # the memo only saves time; without it the next load hashes again


def digest_checks_disabled() -> bool:
    """Whether ``SEGANY_VIDEO_SKIP_DIGEST`` asks to accept files whose digest differs."""
    return os.environ.get(SKIP_DIGEST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def check_digest(path: Path, spec: ModelSpec) -> None:
    """Refuse ``path`` (named like ``spec``'s official file) when its sha256 differs.

    Raises:
        DigestMismatchError: with both digests, sizes and the ways to override.
    """
    assert spec.sha256 is not None
    actual = cached_sha256(path)
    if actual == spec.sha256:
        return
    size = path.stat().st_size
    size_note = (
        f" Its size is {size:,} bytes instead of {spec.size_bytes:,} (a truncated download?)."
        if spec.size_bytes is not None and size != spec.size_bytes
        else ""
    )
    raise DigestMismatchError(
        f"{path} is named like the official {spec.name} weights but its sha256 differs:\n"
        f"  expected {spec.sha256}\n  actual   {actual}\n"
        f"{size_note} Re-download it (segany-video weights download {spec.name}). If you trust "
        f"this file (the expected digest comes from {spec.sha256_source}), set "
        f"{SKIP_DIGEST_ENV}=1 or call build_model(..., verify=False)."
    )


def _resolve_device(device: str | torch.device) -> torch.device:
    # One device check for the whole package: the runtime's, which also names what to install.
    return resolve_device(str(device))


def _resolve_checkpoint(name_or_path: str | os.PathLike[str]) -> tuple[Path, ModelSpec | None]:
    """The checkpoint file for a registry name or path, and the registry entry it claims to be."""
    if isinstance(name_or_path, str) and name_or_path in MODEL_SPECS:
        spec = MODEL_SPECS[name_or_path]
        path = cached_path(spec.name)
        if not path.is_file():
            raise ModelNotFoundError(
                f"the {spec.name} weights are not downloaded (looked for {path}). Download them "
                f"with `segany-video weights download {spec.name}` "
                f"({spec.size_text}), or pass the path of a checkpoint file."
            )
        return path, spec
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(
            f"{str(name_or_path)!r} is neither a model name ({', '.join(MODEL_SPECS)}) nor an "
            "existing checkpoint file"
        )
    return path, spec_for_file_name(path.name)


def _instantiate(spec: ModelSpec, state: dict[str, torch.Tensor], source: str) -> Any:
    """``spec``'s model holding the weights of ``state``, on the CPU.

    Architectures without derived buffers are built on the ``meta`` device and take the file's
    tensors as their parameters: no random initialisation (seconds for ViT-H) and no second
    copy of the weights in memory.
    """
    meta = torch.device("meta")
    with meta:
        model = spec.builder(meta)
    if has_derived_buffers(model):
        model = spec.builder(torch.device("cpu"))
        load_state_dict_strict(model, state, source=source, variant=spec.name)
    else:
        load_state_dict_strict(model, state, source=source, variant=spec.name, assign=True)
    return model


def build_model(
    name_or_path: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    *,
    verify: bool = True,
    classic: ClassicSettings | None = None,
) -> PromptableSegmenter:
    """Build an engine from a registry name or a checkpoint path, in eval mode on ``device``.

    A registry name of a SAM-family model loads its file from the weights cache (nothing is ever
    downloaded here). A path is read safely (:mod:`segany_video.models.checkpoint`), its variant
    detected from keys and shapes, and loaded with strict key and shape checks. A file carrying
    an official file name must also carry the official sha256 (where the registry knows it).

    Args:
        name_or_path: ``"classic"`` (the default when None), a registry name (``"sam_vit_b"``,
            ``"sam2.1_hiera_tiny"``, ...; see :data:`MODEL_SPECS`), or a
            ``.pth``/``.pt``/``.safetensors`` path.
        device: where the model runs, e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
        verify: check the sha256 of files named like official ones (also disabled by
            ``SEGANY_VIDEO_SKIP_DIGEST=1``).
        classic: settings of the classic engine (defaults when None); other engines have none.

    Returns:
        The engine; its ``info`` names the model and the weights file.

    Raises:
        ModelNotFoundError: unknown name, weights not downloaded, or no such file.
        DigestMismatchError: an official file name with another sha256.
        CheckpointError: unreadable, unsafe, unknown or mismatching checkpoint.
        DeviceError: an unavailable device.
    """
    dev = _resolve_device(device)
    name_or_path = DEFAULT_MODEL if name_or_path is None else name_or_path
    if isinstance(name_or_path, str) and name_or_path in MODEL_SPECS:
        spec = MODEL_SPECS[name_or_path]
        if spec.name == "classic":
            return _build_classic(dev, classic)
        if not spec.needs_weights:
            return spec.builder(dev)
    path, claimed = _resolve_checkpoint(name_or_path)
    knows_digest = claimed is not None and claimed.sha256 is not None
    if knows_digest and verify and not digest_checks_disabled():
        check_digest(path, claimed)
    state = read_state_dict(path)
    variant = detect_variant(state, source=str(path))
    if claimed is not None and claimed.name != variant:
        raise CheckpointError(
            f"{path} is named like the {claimed.name} weights but holds a {variant} checkpoint; "
            "rename the file or download the right one."
        )
    spec = MODEL_SPECS[variant]
    model = _instantiate(spec, state, str(path))
    del state
    model = model.eval().to(dev)
    model.info = EngineInfo(name=variant, description=spec.description, weights=str(path))
    return model
