"""publish.py uploads an export folder to the Hugging Face Hub, or lists exactly what it would upload.

The token comes from the caller (typed in the Export tab) or the HF_TOKEN environment variable; it goes
to huggingface_hub only and is never logged, stored or returned. It knows nothing about how the folder
was made, beyond checking it against its manifest.json.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medgemma.config import env_var
from medgemma.errors import InputRejected, PublishError, UserFacingError
from medgemma.export.card import MANIFEST, sha256_file
from medgemma.storage import read_json

logger = logging.getLogger(__name__)

HUB = "https://huggingface.co"
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
REPO_ID = re.compile(rf"^{_PART}/{_PART}$")
Progress = Callable[[float, str], None]
OFFLINE = (
    "Cannot publish: the Hugging Face Hub is in offline mode here (HF_HUB_OFFLINE=1) or there is no "
    "network. Use the dry run to check the upload, then publish from a machine with internet access."
)


@dataclass
class UploadPlan:
    """What a publish uploads: every file of the folder, with sizes, to one repo."""

    repo_id: str
    private: bool
    folder: str
    url: str
    files: list[dict[str, Any]] = field(default_factory=list)
    total_bytes: int = 0
    token: str = ""  # where the token would come from ("typed in", "HF_TOKEN", "missing"), never its value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_repo_id(repo_id: str) -> str:
    """'namespace/name' with letters, digits, '-', '_' and '.', at most 96 characters per part."""
    rid = (repo_id or "").strip()
    problem = ""
    if rid.count("/") != 1:
        problem = "it must be 'namespace/name', e.g. my-org/medgemma-lora"
    elif not REPO_ID.match(rid):
        problem = "use letters, digits, '-', '_' or '.', not starting or ending with '-' or '.'"
    elif "--" in rid or ".." in rid:
        problem = "'--' and '..' are not allowed"
    elif rid.endswith(".git") or any(len(p) > 96 for p in rid.split("/")):
        problem = "a name cannot end with .git or be longer than 96 characters"
    if problem:
        raise InputRejected(f"Invalid Hugging Face repo id {rid!r}: {problem}.")
    return rid


def _token_source(token: str | None) -> tuple[str | None, str]:
    if token and token.strip():
        return token.strip(), "typed in"
    env = env_var("HF_TOKEN") or env_var("HUGGING_FACE_HUB_TOKEN")
    return (env, "HF_TOKEN") if env else (None, "missing")


def plan(folder: str | Path, repo_id: str, private: bool = True, token: str | None = None) -> UploadPlan:
    """Validate the repo id and the folder (files match manifest.json) and list what would be uploaded."""
    rid = validate_repo_id(repo_id)
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise InputRejected(f"Nothing to publish: {root} is not a folder.")
    manifest = read_json(root / MANIFEST)
    if not isinstance(manifest, dict) or not manifest.get("files"):
        raise InputRejected(f"{root} is not a finished export (no {MANIFEST}); export first, then publish.")
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        files.append({"path": rel, "bytes": path.stat().st_size})
    listed = set(manifest["files"]) | {MANIFEST}
    extra = sorted({f["path"] for f in files} - listed)
    missing = sorted(listed - {f["path"] for f in files})
    if extra or missing:
        raise InputRejected(
            f"{root} no longer matches its manifest (added: {', '.join(extra) or 'none'}; "
            f"missing: {', '.join(missing) or 'none'}). Export again."
        )
    for f in files:
        want = manifest["files"].get(f["path"], {})
        if want and want.get("bytes") != f["bytes"]:
            raise InputRejected(f"{f['path']} changed since it was exported (size differs). Export again.")
    return UploadPlan(
        repo_id=rid,
        private=private,
        folder=str(root),
        url=f"{HUB}/{rid}",
        files=files,
        total_bytes=sum(f["bytes"] for f in files),
        token=_token_source(token)[1],
    )


def publish(
    folder: str | Path,
    repo_id: str,
    private: bool = True,
    token: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    verify_hashes: bool = True,
) -> dict[str, Any]:
    """Upload the export folder as one commit (creating the repo if needed); dry_run only plans it."""
    p = plan(folder, repo_id, private, token)
    result = {"dry_run": dry_run, **p.to_dict()}
    if dry_run:
        return result
    secret, _ = _token_source(token)
    if not secret:
        raise InputRejected(
            "No Hugging Face token: set HF_TOKEN in the environment or type one in "
            "(a token with write access, from huggingface.co/settings/tokens)."
        )
    root = Path(p.folder)
    if verify_hashes:
        manifest = read_json(root / MANIFEST, {})
        for f in p.files:
            want = manifest["files"].get(f["path"], {}).get("sha256")
            if want and sha256_file(root / f["path"]) != want:
                raise InputRejected(
                    f"{f['path']} changed since it was exported (sha256 differs). Export again."
                )
    if (env_var("HF_HUB_OFFLINE") or "").strip().lower() in {"1", "true", "yes", "on"}:
        raise PublishError(OFFLINE)
    report = progress or (lambda fraction, message: None)
    try:
        from huggingface_hub import CommitOperationAdd, HfApi
    except ImportError:
        raise PublishError("Publishing needs huggingface_hub (pip install huggingface_hub).") from None
    api = HfApi(token=secret)
    with _hub_errors(p.repo_id):
        report(0.02, f"creating {p.repo_id} ({'private' if private else 'public'}) if needed")
        api.create_repo(p.repo_id, private=private, exist_ok=True, repo_type="model")
        ops = [
            CommitOperationAdd(path_in_repo=f["path"], path_or_fileobj=str(root / f["path"])) for f in p.files
        ]
        done = 0
        for op, f in zip(ops, p.files, strict=True):  # large files first go to LFS storage, one by one
            api.preupload_lfs_files(p.repo_id, additions=[op], repo_type="model")
            done += f["bytes"]
            report(
                0.05 + 0.9 * done / max(1, p.total_bytes), f"uploaded {f['path']} ({f['bytes'] / 1e6:.1f} MB)"
            )
        info = api.create_commit(
            p.repo_id,
            ops,
            commit_message=f"Upload {Path(p.folder).name} from the MedGemma AI Platform",
            repo_type="model",
        )
    report(1.0, f"published to {p.url}")
    logger.info("published %s (%d files, %.1f MB) to %s", p.folder, len(p.files), p.total_bytes / 1e6, p.url)
    return {**result, "commit_url": getattr(info, "commit_url", ""), "url": p.url}


class _hub_errors:
    """Map huggingface_hub and network failures to PublishError with a message that names the cause."""

    def __init__(self, repo_id: str) -> None:
        self.repo_id = repo_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, UserFacingError) or not isinstance(exc, Exception):
            return False
        from huggingface_hub import errors as hub_errors

        name = type(exc).__name__
        if isinstance(exc, hub_errors.OfflineModeIsEnabled):
            raise PublishError(OFFLINE) from None
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise PublishError(
                f"The Hub refused the upload to {self.repo_id} (HTTP {status}): check that the "
                "token has write access to that namespace."
            ) from None
        if isinstance(exc, hub_errors.HfHubHTTPError):
            raise PublishError(
                f"The Hub answered an error for {self.repo_id}: HTTP {status or '?'}."
            ) from None
        if isinstance(exc, OSError) or "Connect" in name or "Timeout" in name or "Network" in name:
            raise PublishError(
                f"Cannot reach {HUB} (no network?): {name}. Check the connection and try again."
            ) from None
        return False
