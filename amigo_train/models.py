"""The model registry: every release and nightly adapter, what it was made from, how it
did, and which one each served name uses.

One JSON file, ``$XDG_DATA_HOME/amigo/models/registry.json``. Every change takes
an exclusive ``flock`` beside it, reads, changes and writes a temporary file that
is fsynced and renamed over the old one, so a reader never sees half a file and
a ``kill -9`` loses at most the change in flight. Standard library only: the
registry is read by ``amigo models`` without the training stack.

Statuses: ``candidate`` (trained, not yet judged), ``promoted`` (what its served
name serves; at most one per name), ``rejected`` (the gate or a person said no),
``retired`` (was promoted, replaced since).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from amigo import xdg
from amigo.errors import InputError

STATUSES = ("candidate", "promoted", "rejected", "retired")
KINDS = ("release", "adapter")


def registry_path() -> Path:
    """Where the registry lives (under the XDG data folder, beside the feedback database)."""
    return xdg.data_dir() / "models" / "registry.json"


class Registry:
    """Atomic read-modify-write access to the registry file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else registry_path()

    def read(self) -> dict[str, Any]:
        """The registry as it is on disk (empty when nothing was registered yet)."""
        if not self.path.is_file():
            return {"models": {}, "promoted": {}, "history": {}}
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"the model registry {self.path} is not valid JSON ({exc}); restore it from "
                             f"{self.path.with_suffix('.json.bak')} or move it away") from None

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self.read()
            yield data
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        if self.path.is_file():
            os.replace(self.path, self.path.with_suffix(".json.bak"))
        os.replace(tmp, self.path)

    def update(self, change: Callable[[dict[str, Any]], Any]) -> Any:
        """Apply ``change`` to the registry under the lock; returns what it returns."""
        with self._locked() as data:
            return change(data)

    def get(self, model_id: str) -> dict[str, Any]:
        """One entry, or an error listing what exists."""
        return _entry(self.read(), model_id)

    def register(self, model_id: str, **fields: Any) -> dict[str, Any]:
        """Add (or update: idempotent) an entry; a new one starts as a candidate."""
        kind = fields.get("kind", "adapter")
        if kind not in KINDS:
            raise InputError(f"model kind {kind!r} is not one of {', '.join(KINDS)}")

        def change(data: dict[str, Any]) -> dict[str, Any]:
            entry = data["models"].setdefault(model_id, {"id": model_id, "status": "candidate",
                                                         "created": time.time()})
            entry.update(fields)
            return entry

        return self.update(change)

    def set_fields(self, model_id: str, **fields: Any) -> dict[str, Any]:
        """Record results (eval, gate, report) on an existing entry."""
        def change(data: dict[str, Any]) -> dict[str, Any]:
            entry = _entry(data, model_id)
            entry.update(fields)
            return entry

        return self.update(change)

    def reject(self, model_id: str, reason: str) -> dict[str, Any]:
        """Mark a candidate rejected (a promoted model is rolled back instead)."""
        def change(data: dict[str, Any]) -> dict[str, Any]:
            entry = _entry(data, model_id)
            if entry["status"] == "promoted":
                raise InputError(f"{model_id} is promoted: use `amigo models rollback {entry['served_name']}`")
            entry.update(status="rejected", reason=reason, changed=time.time())
            return entry

        return self.update(change)

    def promote(self, model_id: str) -> dict[str, Any]:
        """Make ``model_id`` what its served name serves; the one before is retired."""
        def change(data: dict[str, Any]) -> dict[str, Any]:
            entry = _entry(data, model_id)
            name = entry.get("served_name")
            if not name:
                raise InputError(f"{model_id} has no served name; register it with one")
            if entry["status"] == "promoted":
                return entry
            _promote(data, entry, name)
            return entry

        return self.update(change)

    def rollback(self, served_name: str) -> dict[str, Any]:
        """Reject what ``served_name`` serves and promote again the one it replaced."""
        def change(data: dict[str, Any]) -> dict[str, Any]:
            current_id = data["promoted"].get(served_name)
            if current_id is None:
                raise InputError(f"nothing is promoted under {served_name!r}; `amigo models list` shows the names")
            earlier = [i for i in data["history"].get(served_name, [])
                       if i != current_id and data["models"][i]["status"] == "retired"]
            if not earlier:
                raise InputError(f"{served_name!r} has no earlier promoted model to roll back to")
            data["models"][current_id].update(status="rejected", reason="rolled back", changed=time.time())
            del data["promoted"][served_name]
            target = data["models"][earlier[-1]]
            _promote(data, target, served_name)
            return target

        return self.update(change)

    def promoted(self, served_name: str) -> dict[str, Any] | None:
        """The entry promoted under ``served_name``, if any."""
        data = self.read()
        model_id = data["promoted"].get(served_name)
        return data["models"][model_id] if model_id else None


def _entry(data: dict[str, Any], model_id: str) -> dict[str, Any]:
    try:
        return data["models"][model_id]
    except KeyError:
        known = ", ".join(sorted(data["models"])) or "none yet"
        raise InputError(f"no model {model_id!r} in the registry (known: {known})") from None


def _promote(data: dict[str, Any], entry: dict[str, Any], name: str) -> None:
    previous = data["promoted"].get(name)
    if previous and previous != entry["id"]:
        data["models"][previous].update(status="retired", changed=time.time())
    entry.update(status="promoted", changed=time.time(), promoted_at=time.time())
    data["promoted"][name] = entry["id"]
    history = data["history"].setdefault(name, [])
    if entry["id"] in history:
        history.remove(entry["id"])
    history.append(entry["id"])


def serve_pid_path(served_name: str, registry: Path | None = None) -> Path:
    """Where ``amigo serve --promoted NAME`` leaves its pid (for the nightly run to signal)."""
    return (registry or registry_path()).parent / f"serve-{served_name}.pid"


def promoted_files(served_name: str, backend: str, path: Path | None = None) -> tuple[Path, Path | None]:
    """(model, adapter) a server of ``backend`` loads for what ``served_name`` promotes: for
    llama.cpp the GGUF (the release's, or the release with the nightly adapter merged), for vLLM
    the release folder and the adapter served by name."""
    entry = Registry(path).promoted(served_name)
    if entry is None:
        raise InputError(f"nothing is promoted under {served_name!r}: `amigo models list` shows what is registered")
    files = entry.get("files", {})
    if backend == "vllm":
        return Path(files["release"]), Path(files["adapter"]) if files.get("adapter") else None
    if not files.get("gguf"):
        raise InputError(f"{entry['id']} has no GGUF for llama.cpp: serve it with --backend vllm, or convert "
                         f"{files.get('release')} with llama.cpp's convert_hf_to_gguf.py")
    return Path(files["gguf"]), None


def format_table(data: dict[str, Any]) -> str:
    """``amigo models list``: one line per model, newest first."""
    rows = sorted(data["models"].values(), key=lambda e: e.get("created", 0), reverse=True)
    if not rows:
        return "no models registered yet: `amigo train release RUN --name NAME` and `amigo train nightly` register theirs"
    head = f"{'id':<32} {'served name':<24} {'kind':<8} {'status':<10} {'gate':<5} created"
    lines = [head]
    for e in rows:
        gate = e.get("gate", {}).get("ok")
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.get("created", 0)))
        lines.append(f"{e['id']:<32} {e.get('served_name', '-'):<24} {e.get('kind', '-'):<8} {e['status']:<10} "
                     f"{'-' if gate is None else ('pass' if gate else 'fail'):<5} {created}")
    return "\n".join(lines)
