"""The model registry: statuses, one promoted model per served name, rollback, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from amigo.errors import InputError
from amigo_train import models_cli
from amigo_train.models import Registry


def _fill(path: Path, start: int) -> None:
    registry = Registry(path)
    for i in range(start, start + 25):
        registry.register(f"m{i}", kind="adapter", served_name="amigo")


def test_promote_retires_the_previous_and_rollback_brings_it_back(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "models" / "registry.json"
    registry = Registry(path)
    registry.register("rel", kind="release", served_name="amigo", files={"release": "/r"})
    registry.register("n1", kind="adapter", served_name="amigo", base="rel", files={"adapter": "/a1"})
    registry.register("other", kind="release", served_name="fixer")
    assert registry.get("n1")["status"] == "candidate"
    registry.promote("rel")
    registry.promote("other")
    registry.promote("n1")
    data = registry.read()
    assert data["promoted"] == {"amigo": "n1", "fixer": "other"}
    assert [registry.get(i)["status"] for i in ("rel", "n1", "other")] == ["retired", "promoted", "promoted"]
    assert sum(e["status"] == "promoted" and e["served_name"] == "amigo" for e in data["models"].values()) == 1

    assert models_cli.main(["--registry", str(path), "rollback", "amigo"]) == 0
    assert registry.promoted("amigo")["id"] == "rel"
    assert registry.get("n1")["status"] == "rejected" and registry.get("n1")["reason"] == "rolled back"
    assert models_cli.main(["--registry", str(path), "rollback", "amigo"]) == 1  # nothing earlier than the release
    assert "no earlier promoted model" in capsys.readouterr().err

    assert models_cli.main(["--registry", str(path), "list"]) == 0
    listing = capsys.readouterr().out
    assert "rel" in listing and "promoted" in listing and "rejected" in listing
    assert models_cli.main(["--registry", str(path), "show", "n1"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == {"adapter": "/a1"}
    assert models_cli.main(["--registry", str(path), "show", "nope"]) == 1
    assert "no model 'nope' in the registry (known: n1, other, rel)" in capsys.readouterr().err
    with pytest.raises(InputError, match="rollback"):
        registry.reject("rel", "bad")  # a promoted model is rolled back, not rejected
    with pytest.raises(InputError, match="kind"):
        registry.register("x", kind="checkpoint")


def test_concurrent_writers_lose_nothing_and_a_broken_file_says_how_to_recover(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_fill, args=(path, k * 100)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert len(Registry(path).read()["models"]) == 100
    path.write_text("{half a file")
    with pytest.raises(InputError, match="registry.json.bak"):
        Registry(path).read()
    assert len(json.loads(path.with_suffix(".json.bak").read_text())["models"]) == 99  # the state one write before
