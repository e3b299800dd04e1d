"""Uploads to the Hugging Face Hub: a trained model (`amigo train push`) and a preference
dataset (`amigo feedback push`) go the same way, so the token and the errors are handled once.

huggingface_hub comes with the ``train`` extra and is imported only here, when an
upload starts; nothing is ever downloaded from a hub.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from amigo import install_hint
from amigo.errors import ConfigError, InputError


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise InputError(f"uploading to the Hub needs huggingface_hub: {install_hint('train')}") from None
    return huggingface_hub


def hub_token() -> str:
    """The Hub token: HF_TOKEN / HUGGING_FACE_HUB_TOKEN, else the one `hf auth login` saved.

    Why the saved one too: that is where people who use the Hub already keep it;
    a token is still never taken from a flag (it would land in shell history)."""
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or _hub().get_token()
    if not token:
        raise ConfigError("no Hugging Face token: run `hf auth login` (or set HF_TOKEN) to push")
    return token


def check_repo_id(repo_id: str) -> None:
    """Refuse an id the Hub would reject, before anything is read or sent."""
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ConfigError(f"--repo-id must look like ORG/NAME, got {repo_id!r}")


def folder_files(folder: Path) -> list[tuple[str, int]]:
    """(path, bytes) of every file an upload of ``folder`` sends, sorted."""
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*") if p.is_file())


def upload_folder(folder: Path, repo_id: str, private: bool, repo_type: Literal["model", "dataset"],
                  message: str) -> None:
    """Create the Hub repository (private unless asked) and upload ``folder``; a hub that cannot
    be reached or refuses is an AmigoError that says which, not a traceback."""
    api = _hub().HfApi(token=hub_token())
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type=repo_type, commit_message=message)
    except Exception as exc:  # httpx transport errors and huggingface_hub's HTTP errors alike
        raise ConfigError(f"the upload to {api.endpoint} failed ({type(exc).__name__}: {str(exc)[:200]}); "
                          "check the network, the token's write access and the repository id") from None
