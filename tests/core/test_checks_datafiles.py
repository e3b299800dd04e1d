"""The check stage on the files no grammar parses: JSON, TOML, YAML and INI read by their own parsers,
and any text file's lines. The answers below are the embedded model's, to instructions a person
gives about ``package.json``, ``pyproject.toml`` and a GitHub workflow (2026-12-06): before this
check, ``amigo edit --yes`` wrote every one of them."""

from __future__ import annotations

import configparser
import json
import tomllib

import pytest
import yaml

from amigo import datafiles
from amigo.checks import check_change, check_changes

from helpers import RecordedModelServer, git, recorded_session
from helpers import amigo as run_amigo

PACKAGE_JSON = """{
  "name": "tinyapp-web",
  "version": "1.2.0",
  "scripts": {
    "build": "vite build",
    "test": "vitest run"
  },
  "dependencies": {
    "react": "^18.2.0"
  }
}
"""
PYPROJECT = """[project]
name = "tinyapp"
version = "0.3.1"
dependencies = [
  "httpx>=0.27",
  "click>=8.1",
]

[tool.ruff]
line-length = 100
"""
WORKFLOW = """name: CI
on:
  push:
    branches: [main]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pytest -q
"""
TSCONFIG = """{
  // what the editor reads too
  "compilerOptions": {
    "strict": true,
    "target": "es2022",
  },
}
"""


def amigo(repo, *args, endpoint, env=None, timeout=120):
    """The real ``amigo`` command with feedback off: these tests check edits, not records."""
    return run_amigo(repo, *args, endpoint=endpoint, env={"AMIGO_FEEDBACK__ENABLED": "false", **(env or {})},
                     timeout=timeout)


def committed(repo, files):
    """``files`` (name -> text) written and committed in ``repo``."""
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", *files)
    git(repo, "commit", "-q", "-m", "config")


def read_ini(text):
    """``text`` read as setuptools reads a setup.cfg (raises where it cannot)."""
    configparser.ConfigParser(interpolation=None).read_string(text)


def errors(path, old, new, instruction):
    return [(f.kind, f.line) for f in check_changes([(path, old, new)], instruction) if f.level == "error"]


@pytest.mark.parametrize("path, new, line, words", [
    ("package.json", PACKAGE_JSON.replace('"^18.2.0"\n', '"^18.2.0",\n'), 10, "property name"),
    ("package.json", "npm install -g lodash\n", 1, "Expecting value"),
    ("pyproject.toml", PYPROJECT.replace('"click>=8.1",', '"click>=8.1"\n  "rich>=13",'), 7, "array"),
    (".github/workflows/ci.yml", WORKFLOW.replace("    branches: [main]", "    branches: [main"), 5, "flow sequence"),
])
def test_a_data_file_that_no_longer_parses_is_refused_with_the_parsers_line(path, new, line, words):
    old = {"package.json": PACKAGE_JSON, "pyproject.toml": PYPROJECT}.get(path, WORKFLOW)
    (finding,) = check_changes([(path, old, new)], "Add lodash ^4.17.21 to the dependencies")
    assert (finding.kind, finding.level, finding.line) == ("syntax", "error", line)
    assert "no longer valid" in finding.message and words in finding.message, finding.message


def test_each_format_is_read_by_its_reference_parser():
    for text, fmt, parse in ((PACKAGE_JSON, "json", json.loads), (PYPROJECT, "toml", tomllib.loads),
                             (WORKFLOW, "yaml", yaml.safe_load)):
        parse(text)
        assert datafiles.syntax_error(text, fmt) is None and datafiles.reading(text, fmt) == "strict"
    # composed, not constructed: tags only a tool's own loader knows are no syntax error
    assert datafiles.syntax_error("emoji: !!python/name:material.twemoji\nref: !Ref Bucket\n", "yaml") is None
    assert datafiles.keys(WORKFLOW, "yaml")[("jobs", "test", "steps", "*", "with", "python-version")] == [12]
    assert datafiles.keys(PYPROJECT, "toml")[("tool", "ruff")] == [9]


def test_a_jsonc_file_stays_jsonc_and_strict_json_stays_strict():
    assert datafiles.reading(TSCONFIG, "json") == "jsonc"
    kept = TSCONFIG.replace('"es2022",', '"es2023", // newer\n    "noEmit": true,')
    assert errors("tsconfig.json", TSCONFIG, kept, "Add noEmit") == []
    assert errors("tsconfig.json", TSCONFIG, kept.replace('"noEmit"', "noEmit"), "Add noEmit") == [("syntax", 6)]
    # a comment in package.json breaks npm: the message says why a comment is an error here
    (finding,) = check_change("package.json", PACKAGE_JSON, PACKAGE_JSON.replace('"1.2.0",', '"1.2.1", // bump'),
                              "Bump the version")
    assert finding.kind == "syntax" and "no comments or trailing commas" in finding.message
    # strings that hold comment or comma characters are left alone
    assert json.loads(datafiles.jsonc_to_json('{"a": "x, // y }", /* c */ "b": [1, 2,],}')) == {
        "a": "x, // y }", "b": [1, 2]}


SETUP_CFG = """[metadata]
name = tinyapp
version = 0.3.1

[options]
install_requires =
    httpx>=0.27
    click>=8.1

[tool:pytest]
addopts = -q --cov=%(here)s {posargs}
"""


def test_an_ini_file_is_read_as_setuptools_tox_and_flake8_read_it():
    """setup.cfg, tox.ini, mypy.ini and the dotfiles flake8 and coverage read: configparser with
    no interpolation (tox's {posargs} and a literal % are fine), a line that is no option, an
    option before any section or one given twice an error, with its line."""
    assert datafiles.format_of("setup.cfg") == datafiles.format_of("tox.ini") == "ini"
    assert datafiles.format_of("pkg/.flake8") == datafiles.format_of(".coveragerc") == "ini"
    assert datafiles.reading(SETUP_CFG, "ini") == "strict"
    for new, line, words in (("npm install -g lodash\n", 1, "before any [section]"),
                             (SETUP_CFG.replace("    click>=8.1\n", "    click>=8.1\nclick is needed\n"), 9,
                              "neither a [section] header, an option"),
                             (SETUP_CFG.replace("version = 0.3.1\n", "version = 0.3.1\nversion = 0.4.0\n"), 4,
                              "option 'version' in section 'metadata' is given twice")):
        (finding,) = check_change("setup.cfg", SETUP_CFG, new, "Bump the version to 0.4.0")
        assert (finding.kind, finding.level, finding.line) == ("syntax", "error", line), finding
        assert "is no longer valid INI" in finding.message and words in finding.message, finding.message
    # a value of several lines is a list: a requirement gone unasked is an entry gone
    (finding,) = check_change("setup.cfg", SETUP_CFG, SETUP_CFG.replace("    httpx>=0.27\n", "").replace(
        "0.3.1", "0.4.0"), "Bump the version to 0.4.0")
    assert (finding.kind, finding.level) == ("removed-key", "error")
    assert "options.install_requires[httpx] (old line 7)" in finding.message, finding.message
    assert check_change("setup.cfg", SETUP_CFG, SETUP_CFG.replace("0.3.1", "0.4.0"), "Bump the version") == []
    # a tox dependency under a factor condition is named by what it installs: tqdm's "add py3.13
    # support" rewrote "py{38,39,310,311,312,py3}: git+https://..." as "!py37: git+https://..."
    tox = "[testenv]\ndeps =\n    py{38,39}: git+https://github.com/casperdcl/nbval\n    coverage\n"
    assert check_change("tox.ini", tox, tox.replace("py{38,39}:", "!py37:"), "add py3.13 support") == []
    # not INI to begin with (an .editorconfig-like file whose first option has no section): not judged
    loose = "root = true\n[*.py]\nindent_size = 4\n"
    assert check_change("style.cfg", loose, "root = true\n", "Drop the Python settings") == []


def test_a_file_that_did_not_parse_before_is_not_blamed():
    template = "name: {{ cookiecutter.name }}\nversion: [\n"
    assert check_change("chart/values.yaml", template, template + "extra: 1\n", "add extra") == []


def test_keys_lost_unasked_are_an_error_where_the_instruction_only_adds_or_sets():
    without_ruff = PYPROJECT.replace('version = "0.3.1"', 'version = "0.4.0"').replace(
        "\n[tool.ruff]\nline-length = 100\n", "")
    (finding,) = check_changes([("pyproject.toml", PYPROJECT, without_ruff)], "Bump the version to 0.4.0")
    assert (finding.kind, finding.level) == ("removed-key", "error")
    assert "tool (old line 9)" in finding.message
    assert errors("pyproject.toml", PYPROJECT, without_ruff, "ci: set the version to 0.4.0") == [("removed-key", None)]
    # restructuring words, a removal or the key named: a config often loses keys rightly
    (warning,) = check_changes([("pyproject.toml", PYPROJECT, without_ruff)], "use flake8 for linting")
    assert (warning.kind, warning.level) == ("removed-key", "warning")
    assert check_changes([("pyproject.toml", PYPROJECT, without_ruff)], "Drop the linter settings") == []
    assert check_changes([("pyproject.toml", PYPROJECT, without_ruff)], "Bump to 0.4.0 and move ruff out") == []
    # keys moved out of their table count: the embedded model's answer to a selection of a table's
    # first lines put comments where the header was, so its keys fell into the table above
    headless = PYPROJECT.replace("[tool.ruff]\n", "# TODO:\n")
    (finding,) = check_changes([("pyproject.toml", PYPROJECT, headless)], "Use a longer line length",
                               selection=("pyproject.toml", (9, 10)))
    assert (finding.kind, finding.level) == ("removed-key", "error") and "of the keys selected" in finding.message
    # a key under a list item is lost only when no item keeps it
    no_with = WORKFLOW.replace('        with:\n          python-version: "3.12"\n', "")
    (finding,) = check_changes([(".github/workflows/ci.yml", WORKFLOW, no_with)], "Add a lint job")
    assert finding.level == "error" and "jobs.test.steps.*.with (old line 11)" in finding.message


def test_list_entries_lost_unasked_count_as_keys_do():
    """A plain value in a list (a dependency, a needed job, a Python version) is an entry: the
    embedded model answered "tests: bump pytest-asyncio" on tqdm's environment.yml with five of its
    test dependencies gone (and invented ones in their place)."""
    env = "name: tqdm\ndependencies:\n- python\n# tests\n- pytest\n- pytest-cov\n- pytest-asyncio>=0.20\n- dask\n"
    junk = env.replace("- pytest\n- pytest-cov\n- pytest-asyncio>=0.20\n", "- pytest-asyncio>=0.21\n- pytest-autopipe\n")
    (finding,) = check_changes([("environment.yml", env, junk)], "tests: bump pytest-asyncio")
    assert (finding.kind, finding.level) == ("removed-key", "error")
    assert finding.message.startswith("removes the list entries dependencies[pytest] (old line 5), "
                                      "dependencies[pytest-cov] (old line 6)"), finding.message
    assert datafiles.keys(PYPROJECT, "toml")[("project", "dependencies", "*", "=click")] == [6]
    # the entry named, or its version changed, is no loss; an instruction that also drops is no add
    bumped = env.replace(">=0.20", ">=0.21")
    assert check_changes([("environment.yml", env, bumped)], "tests: bump pytest-asyncio") == []
    assert check_changes([("environment.yml", env, env.replace("- dask\n", ""))], "Drop dask") == []
    matrix = 'jobs:\n  test:\n    strategy:\n      matrix:\n        python-version: ["3.7", "3.8", "3.9"]\n'
    newer = matrix.replace('"3.7", ', "").replace('"3.9"', '"3.9", "3.14"')
    assert check_changes([("ci.yml", matrix, newer)], "Add Python 3.14, drop Python 3.7") == []
    assert check_changes([("ci.yml", matrix, matrix.replace('"3.7"', '"3.12"'))], "Bump the oldest Python") == []
    # (a version replaced by another reads as a change: "3.7" -> "3.14" passes "Add Python 3.14")
    (finding,) = check_changes([("ci.yml", matrix, matrix.replace('"3.7", ', ""))], "Add Python 3.14")
    assert finding.level == "error" and "jobs.test.strategy.matrix.python-version[3.7] (old line 5)" in finding.message


def test_a_removal_that_points_at_keys_excuses_only_those():
    """"Remove the unused settings" may take any keys, since only the answer says which; a removal
    that points at something (a key's name, a term on its line) excuses that and no more: the
    embedded model answered packaging's "Removing the --ignore-installed option because pip >
    10.0" by dropping ``install_command`` (right) and also three dependencies and ``commands``."""
    tox = ("[testenv]\ndeps =\n    pretend\n    pytest\n    git+https://github.com/a/b.git@main\n"
           "install_command = pip install --ignore-installed {opts} {packages}\ncommands = pytest\n")
    right = tox.replace("install_command = pip install --ignore-installed {opts} {packages}\n", "")
    instruction = "Removing the --ignore-installed option because pip > 10.0"
    assert check_change("tox.ini", tox, right, instruction) == []
    gutted = "[testenv]\ndeps =\n    pytest\n"
    (finding,) = check_change("tox.ini", tox, gutted, instruction)
    assert (finding.kind, finding.level) == ("removed-key", "warning"), finding
    assert "testenv.deps[pretend] (old line 3), testenv.deps[git+https://github.com/a/b.git] (old line 5), " \
           "testenv.commands (old line 7)" in finding.message, finding.message
    assert "install_command" not in finding.message
    assert check_change("tox.ini", tox, gutted, "Remove the unused options") == []
    # a term on a line is what to change when nothing is removed: the step stays asked for
    assert errors("tox.ini", tox, right, "Bump --ignore-installed to pip 24") == [("removed-key", None)]


def test_a_comma_list_on_one_ini_line_holds_entries():
    """tox's ``envlist = py37, py38`` and flake8's ``ignore = E203,W503`` are lists written on one
    line (tox expands braces); prose with commas is one value."""
    tox = "[tox]\nenvlist = py{37,38}-django, py39, lint\n[flake8]\nignore = E203,W503\ndescription = tests, then lint\n"
    found = datafiles.keys(tox, "ini")
    assert [key[-1] for key in found if key[:2] == ("tox", "envlist") and len(key) > 2] == ["=py37-django", "=py38-django", "=py39", "=lint"]
    assert found[("flake8", "ignore", "*", "=W503")] == [4]
    assert not any(len(key) > 2 for key in found if key[:2] == ("flake8", "description"))
    (finding,) = check_change("tox.ini", tox, tox.replace(", lint", ", py313"), "Add py313")
    assert (finding.kind, finding.level) == ("removed-key", "error")
    assert "tox.envlist[lint] (old line 2)" in finding.message, finding.message
    assert check_change("tox.ini", tox, tox.replace("E203,W503", "E203,W503,E501"), "Also ignore E501") == []
    assert check_change("tox.ini", tox, tox.replace(", py39", ""), "Drop py39") == []
    # a list left with one word is a list still: only the entry dropped is gone
    assert check_change("tox.ini", tox, tox.replace("E203,W503", "W503"), "Stop ignoring E203") == []
    (finding,) = check_change("tox.ini", tox, tox.replace("E203,W503", "W503"), "Also check E501")
    assert "flake8.ignore[E203]" in finding.message and "W503" not in finding.message, finding.message
    # an entry's line is its own, not that of the first entry of the name (tqdm's testenv:perf
    # was shown losing deps[pytest] and commands[pytest] both at line 13)
    perf = "[testenv:perf]\ndeps =\n    pytest\ncommands =\n    pytest --perf\n"
    found = datafiles.keys(perf, "ini")
    assert found[("testenv:perf", "deps", "*", "=pytest")] == [3]
    assert found[("testenv:perf", "commands", "*", "=pytest")] == [5]


def test_a_python_version_named_points_at_what_is_for_it():
    """"Drop Python 3.7" names tox's ``py37`` and ``[testenv:py37]``, CI's ``pypy-3.7`` and the
    classifier for 3.7 (real commits of attrs, packaging and tqdm were warned for those); a trove
    classifier is one entry, and one whose last part changed is changed, not lost."""
    tox = ("[tox]\nenvlist = py37, py38, lint\n[testenv:py37]\ndeps = mock\n"
           "[metadata]\nclassifiers =\n    Development Status :: 4 - Beta\n"
           "    Programming Language :: Python :: 3.7\n    Programming Language :: Python :: 3.8\n")
    dropped = tox.replace("py37, ", "").replace("[testenv:py37]\ndeps = mock\n", "").replace(
        "    Programming Language :: Python :: 3.7\n", "")
    assert check_change("tox.ini", tox, dropped, "Drop Python 3.7") == []
    assert check_change("tox.ini", tox, dropped, "drop py37 support") == []
    (finding,) = check_change("tox.ini", tox, dropped, "Drop Python 3.6")
    assert finding.level == "warning" and "tox.envlist[py37] (old line 2), testenv:py37 (old line 3), " \
        "metadata.classifiers[Programming Language :: Python :: 3.7] (old line 8)" in finding.message, finding.message
    stable = tox.replace("4 - Beta", "5 - Production/Stable")
    assert check_change("tox.ini", tox, stable, "Mark the project stable") == []
    (finding,) = check_change("tox.ini", tox, tox.replace("    Development Status :: 4 - Beta\n", ""), "Add py39")
    assert finding.level == "error" and "classifiers[Development Status :: 4 - Beta]" in finding.message


def test_a_removal_asked_of_entries_that_all_stay_is_not_done():
    """The embedded model answered more-itertools' "change tox.ini: remove py38, add py313" by
    rewriting ``commands`` and adding a comment that says it removed py38; tox reads
    ``py{38,39,310}`` as three environments. A line gone in any file counts as done ("remove
    flake8" may take a hook away and keep a dependency)."""
    tox = "[tox]\nenvlist = py{38,39,310}\n\n[testenv]\ncommands = python -m unittest {posargs}\n"
    assert datafiles.ini_entries("py{38,39}-django{32,42}, lint") == [
        "py38-django32", "py38-django42", "py39-django32", "py39-django42", "lint"]
    instruction = "change tox.ini: remove py38, add py313"
    nothing = tox.replace("{posargs}", "pytest-env") + "# Remove py38, add py313\n"
    (finding,) = check_changes([("tox.ini", tox, nothing)], instruction)
    assert (finding.kind, finding.level) == ("not-done", "error")
    assert finding.message.startswith("still has tox.envlist[py38], which the instruction asks to remove")
    assert check_changes([("tox.ini", tox, tox.replace("{38,39,310}", "{39,310,313}"))], instruction) == []
    ci = "jobs:\n  test:\n    steps:\n      - run: tox -e py38\n"
    assert check_changes([("tox.ini", tox, nothing.replace("# Remove py38, add py313\n", "")),
                          ("ci.yml", ci, ci.replace("py38", "py39"))], instruction) == []
    assert check_changes([("tox.ini", tox, nothing)], "Add py313") == []
    # an entry added beside one the removal names is not the removal
    listed = tox.replace("py{38,39,310}", "py38, py39")
    assert check_changes([("tox.ini", listed, listed.replace("py39", "py39, py313"))], instruction)[0].kind == "not-done"


def test_a_removal_made_by_a_shim_or_an_exclusion_is_done():
    """Real commits: pre-commit-hooks' "remove flake8 and suggest pycqa/flake8" made the hook's
    ``entry: flake8`` a shim that names flake8 twice and kept the dependency; packaging's "ci: drop
    3.13t on Windows" added the version to the matrix's ``exclude``."""
    hooks = "-   id: flake8\n    name: Flake8\n    entry: flake8\n    language: python\n"
    cfg = "[options]\ninstall_requires =\n    flake8\n    pyyaml\n"
    shim = hooks.replace("entry: flake8", "entry: pre-commit-hooks-removed flake8 flake8 https://gitlab.com/pycqa/flake8")
    instruction = "remove flake8 and suggest pycqa/flake8"
    assert check_changes([(".pre-commit-hooks.yaml", hooks, shim), ("setup.cfg", cfg, cfg)], instruction) == []
    renamed = hooks.replace("name: Flake8", "name: Flake8 (removed)")
    (finding,) = check_changes([(".pre-commit-hooks.yaml", hooks, renamed), ("setup.cfg", cfg, cfg)], instruction)
    assert finding.kind == "not-done" and "install_requires[flake8]" in finding.message
    matrix = ("jobs:\n  test:\n    strategy:\n      matrix:\n        os: [Ubuntu, Windows]\n"
              "        python_version: [\"3.12\", \"3.13t\"]\n    runs-on: ${{ matrix.os }}\n")
    excluded = matrix.replace("    runs-on", "        exclude:\n          - os: Windows\n"
                                             "            python_version: \"3.13t\"\n    runs-on")
    instruction = "ci: drop 3.13t on Windows"
    assert check_changes([("test.yml", matrix, excluded)], instruction) == []
    included = excluded.replace("exclude:", "include:")
    assert check_changes([("test.yml", matrix, included)], instruction)[0].kind == "not-done"
    # an ignore line rewritten with the entry still on it leaves out nothing more than before
    flake8 = "[flake8]\nignore = E203,W503\nmax-line-length = 88\n"
    (finding,) = check_changes([("setup.cfg", flake8, flake8.replace("W503", "W503,W504"))], "Drop W503")
    assert finding.kind == "not-done"


def test_most_of_any_text_file_gone_is_refused():
    readme = "# tinyapp\n\nA tiny app.\n\n## Install\n\npip install tinyapp\n\n## Use\n\ntinyapp run\n"
    assert errors("README.md", readme, "# tinyapp\n", "Fix the typo in the install section") == [
        ("removed-selection", 1)]
    # a YAML answer that parses (a comment is an empty document) but holds nothing of the file
    (finding,) = check_changes([(".github/workflows/ci.yml", WORKFLOW, "# Code to rewrite\n")], "Run on macos too")
    assert (finding.kind, finding.level) == ("removed-key", "error") and "100% of the keys" in finding.message
    # comment lines hold no content: a file emptied and filled with them is still mostly gone
    script = "".join(f"  ./step{k}.sh\n" for k in range(8))
    assert errors("run.yaml", "run: |\n" + script, "run: |\n  ./step0.sh\n" + "# TODO:\n" * 8, "Quote the steps") == [
        ("removed-selection", 1)]
    assert errors("README.md", readme, "# tinyapp\n", "Remove the install and use sections") == []


def test_a_broken_package_json_is_refused_under_yes_then_repaired(repo):
    committed(repo, {"package.json": PACKAGE_JSON})
    before = (repo / "package.json").read_bytes()
    fixed = PACKAGE_JSON.replace('"react": "^18.2.0"\n', '"react": "^18.2.0",\n    "lodash": "^4.17.21"\n')
    answers = iter(["```json\nnpm install -g lodash\n```\n", f"```json\n{fixed}```\n"])
    with RecordedModelServer(lambda body: "```json\nnpm install -g lodash\n```\n") as server:
        refused = amigo(repo, "edit", "Add lodash ^4.17.21 to the dependencies", "package.json", "--yes",
                        endpoint=server.base_url, env={"AMIGO_REPAIR_ATTEMPTS": "0", "AMIGO_CANDIDATES": "1"})
    assert refused.returncode == 1, refused.stderr
    assert "no longer valid JSON" in refused.stderr and "--allow-broken" in refused.stderr
    assert (repo / "package.json").read_bytes() == before and git(repo, "status", "--porcelain") == ""
    with RecordedModelServer(lambda body: next(answers)) as server:
        repaired = amigo(repo, "edit", "Add lodash ^4.17.21 to the dependencies", "package.json", "--yes",
                         endpoint=server.base_url, env={"AMIGO_CANDIDATES": "1"})
        problem = server.requests[1]["messages"][-1]["content"]
    assert repaired.returncode == 0, repaired.stderr
    assert "no longer valid JSON" in problem and "line 1" in problem
    assert json.loads((repo / "package.json").read_text())["dependencies"]["lodash"] == "^4.17.21"


def test_a_data_file_mostly_deleted_is_refused_and_asked_again(repo):
    """The embedded model's answer to a version change on a pyproject.toml: a few TODO lines for
    the whole file. It parses (comments); most of its keys gone is what tells. No reading of it
    as a partial answer applies to a file without definitions."""
    committed(repo, {"pyproject.toml": PYPROJECT})
    gutted = '```toml\n[project]\nname = "tinyapp"\n# TODO:\n# TODO:\n```\n'
    bumped = f"```toml\n{PYPROJECT.replace('0.3.1', '0.4.0')}```\n"
    answers = iter([gutted, bumped])
    with RecordedModelServer(lambda body: next(answers)) as server:
        result = amigo(repo, "edit", "Update the version to 0.4.0", "pyproject.toml", "--yes",
                       endpoint=server.base_url, env={"AMIGO_CANDIDATES": "1"})
        problem = server.requests[1]["messages"][-1]["content"]
    assert result.returncode == 0, result.stderr
    assert "removes the keys project.dependencies" in problem and "of the keys and list entries it had" in problem
    assert tomllib.loads((repo / "pyproject.toml").read_text())["project"]["version"] == "0.4.0"


def test_of_the_candidates_that_pass_one_without_warnings_is_kept(repo):
    """Two answers to "Use flake8 for linting" pass: one drops [tool.ruff] (a warning: keys lost
    under an instruction that may restructure), the other keeps it. The smaller change used to
    win; the one the check stage has nothing to say about does now, and a warned one passing
    first does not cut the others short (it ends first here: it is the shorter answer)."""
    committed(repo, {"pyproject.toml": PYPROJECT})
    dropped = PYPROJECT.replace("\n[tool.ruff]\nline-length = 100\n", "")
    kept = PYPROJECT.replace("\n[tool.ruff]", '\n# linting\n[tool.flake8]\nmax-line-length = 100\n\n[tool.ruff]')
    answers = {0: f"```toml\n{dropped}```\n", 1: f"```toml\n{kept}```\n"}
    with RecordedModelServer(lambda body: answers[body["seed"]]) as server:
        session, _ = recorded_session(repo, server, candidates=2, repair_attempts=0)
        proposal = session.propose(session.make_request("Use flake8 for linting", "pyproject.toml"))
        session.close()
    assert proposal.passes and proposal.findings == ()
    assert "[tool.ruff]" in proposal.answer


@pytest.mark.model
@pytest.mark.slow
def test_the_real_model_never_writes_a_broken_config_under_yes(repo, model_server):
    """SmolLM2-135M asked to edit a package.json, a pyproject.toml and a setup.cfg: whatever it
    answers, ``--yes`` writes a file that parses and keeps its keys, or refuses and leaves the file
    as it was."""
    committed(repo, {"package.json": PACKAGE_JSON, "pyproject.toml": PYPROJECT, "setup.cfg": SETUP_CFG})
    for path, instruction, load in (("package.json", "Add lodash ^4.17.21 to the dependencies", json.loads),
                                    ("pyproject.toml", "Bump the version to 0.4.0", tomllib.loads),
                                    ("setup.cfg", "Add rich to install_requires", read_ini)):
        before = (repo / path).read_text()
        result = amigo(repo, "edit", instruction, path, "--yes", endpoint=model_server, timeout=300,
                       env={"AMIGO_MAX_TOKENS": "320", "AMIGO_CANDIDATES": ""})  # unset: what a person gets
        assert "Traceback" not in result.stderr
        after = (repo / path).read_text()
        if result.returncode == 0:
            load(after)
            assert [f for f in check_change(path, before, after, instruction) if f.level == "error"] == []
        else:
            assert result.returncode == 1 and after == before, result.stderr
