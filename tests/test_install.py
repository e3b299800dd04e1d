"""What a person installs: the distribution name, its licence, and every install hint naming it."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import amigo

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SOURCE_DIRS = ("amigo", "amigo_lsp", "amigo_tui", "feedback", "amigo_train")


def test_distribution_name_is_ours_and_licensed():
    project = PYPROJECT["project"]
    assert project["name"] == amigo.DISTRIBUTION == "amigo-code"
    assert project["scripts"] == {"amigo": "amigo.cli:main"}
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")[:200]
    # license = "SPDX expression" needs setuptools 77; an older one fails the build.
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]
    assert {"Homepage", "Source", "Issues"} <= set(project["urls"])


def test_no_hint_installs_the_unrelated_amigo_project():
    stale = re.compile(r"""pip install ['"]?amigo(\[|['"` ]|$)""")
    offenders = [f"{path.relative_to(ROOT)}:{n}" for folder in SOURCE_DIRS for path in (ROOT / folder).rglob("*.py")
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if stale.search(line)]
    assert offenders == []
    assert amigo.install_hint("eval").startswith("pip install 'amigo-code[eval]'")


def test_missing_extra_names_the_right_extra():
    # Python refuses to import a module whose sys.modules entry is None: the same
    # ImportError a person gets when `amigo eval` runs without its extra.
    code = ("import sys; sys.modules['amigo_train.eval.cli'] = None; "
            "from amigo.cli import main; raise SystemExit(main(['eval', 'run']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "pip install 'amigo-code[eval]'" in result.stderr
