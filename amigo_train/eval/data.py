"""Where benchmark files come from: a folder given by the user, AMIGO_DATA_DIR, or upstream.

Nothing is fetched unless asked for (``download=True``): evaluations must be
reproducible offline, and a silent download would hide which copy was scored.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, Iterator

from amigo.errors import InputError
from amigo import xdg

ENV_VAR = "AMIGO_DATA_DIR"

# relative path inside the data folder -> upstream URL it was copied from
UPSTREAM: dict[str, str] = {
    "humaneval/HumanEval.jsonl.gz": "https://github.com/openai/human-eval/raw/master/data/HumanEval.jsonl.gz",
    "humanevalplus/HumanEvalPlus.jsonl.gz": (
        "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus-v0.1.10.jsonl.gz"
    ),
    "mbpp/mbpp.jsonl": "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/mbpp.jsonl",
    "mbppplus/MbppPlus.jsonl": (
        "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus-v0.2.0.jsonl.gz"
    ),
    "gsm8k/test.jsonl": (
        "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/test.jsonl"
    ),
    **{
        f"humanevalpack/{lang}.jsonl": (
            f"https://huggingface.co/datasets/bigcode/humanevalpack/resolve/main/data/{lang}/data/humanevalpack.jsonl"
        )
        for lang in ("python", "js", "java", "go", "cpp", "rust")
    },
}


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The benchmark data folder: ``explicit``, else ``$AMIGO_DATA_DIR``, else None."""
    chosen = explicit or os.environ.get(ENV_VAR)
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise InputError(f"benchmark data folder {path} does not exist: pass --data-dir with the "
                         f"folder that holds humaneval/, mbpp/, ... (or fix ${ENV_VAR})")
    return path


def cache_dir() -> Path:
    return xdg.cache_dir() / "data"


def locate(relative: str, explicit: str | os.PathLike[str] | None = None, download: bool = False) -> Path:
    """The file ``relative`` inside the data folder, fetching it upstream when allowed."""
    folder = data_dir(explicit)
    if folder is not None and (folder / relative).is_file():
        return folder / relative
    cached = cache_dir() / relative
    if cached.is_file():
        return cached
    if download and relative in UPSTREAM:
        return fetch(UPSTREAM[relative], cached)
    where = f"{folder / relative} is missing" if folder else f"no data folder is set (${ENV_VAR})"
    hint = " or pass --download to fetch it from upstream" if relative in UPSTREAM else ""
    raise InputError(f"cannot find benchmark file {relative}: {where}. Pass --data-dir DIR "
                     f"(a copy of the benchmark data, e.g. ../shared/data), set ${ENV_VAR}{hint}.")


def fetch(url: str, dest: Path) -> Path:
    """Download ``url`` to ``dest`` (gunzipping when the URL is .gz but ``dest`` is not)."""
    import httpx

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        response = httpx.get(url, follow_redirects=True, timeout=60.0)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise InputError(f"could not download {url}: {exc}. Copy the file to {dest} by hand.") from exc
    body = response.content
    if url.endswith(".gz") and not dest.name.endswith(".gz"):
        body = gzip.decompress(body)
    tmp = dest.with_suffix(dest.suffix + ".part")
    tmp.write_bytes(body)
    tmp.replace(dest)
    return dest


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON Lines file, gzipped or not, with the line number in errors."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number} is not valid JSON ({exc.msg})") from exc


def require(record: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    """Fail clearly when a record lacks fields the task needs (wrong file or schema)."""
    missing = [k for k in keys if k not in record]
    if missing:
        raise InputError(f"{where}: record lacks {', '.join(missing)}; is this the right file?")
