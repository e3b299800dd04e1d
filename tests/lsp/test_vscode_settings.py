"""The VS Code extension's manifest against the language server: every setting the server
accepts is one the extension offers (same name, type and choices), and the manifest has
what `vsce package` and the Marketplace need without escape flags."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from amigo.config import DECODING_MODES, EDIT_FORMATS, FIM_CHOICES
from amigo_lsp.settings import CLIENT_KEYS, COMPLETION_KEYS, CONFIG_KEYS

VSCODE = Path(__file__).resolve().parents[2] / "editors" / "vscode"
MANIFEST = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
PROPERTIES = MANIFEST["contributes"]["configuration"]["properties"]
JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
CHOICES = {"editFormat": EDIT_FORMATS, "decoding": DECODING_MODES}


def extension_keys() -> set[str]:
    """The amigo.* settings, less the ones only the extension reads (amigo.trace.server -> trace)
    and the inline-completion object's (checked against its own table)."""
    keys = {name.removeprefix("amigo.") for name in PROPERTIES}
    return {k for k in keys if k.split(".")[0] not in (*CLIENT_KEYS, "completion")}


def test_every_server_setting_is_offered_with_its_type_and_choices() -> None:
    assert extension_keys() == set(CONFIG_KEYS)
    for key, (_, kind) in CONFIG_KEYS.items():
        spec = PROPERTIES[f"amigo.{key}"]
        # null means "not set here": amigo.toml and AMIGO_* decide
        assert spec["type"] == [JSON_TYPES[kind], "null"] and spec["default"] is None, key
        if key in CHOICES:
            assert spec["enum"] == [*CHOICES[key], None], key


def test_every_completion_setting_is_offered_with_its_type() -> None:
    offered = {name.removeprefix("amigo.completion.") for name in PROPERTIES if name.startswith("amigo.completion.")}
    assert offered == set(COMPLETION_KEYS)
    for key, (_, kind) in COMPLETION_KEYS.items():
        spec = PROPERTIES[f"amigo.completion.{key}"]
        assert spec["type"] == [JSON_TYPES[kind], "null"] and spec["default"] is None, key
    assert PROPERTIES["amigo.completion.fim"]["enum"] == [*FIM_CHOICES, None]
    source = (VSCODE / "src" / "settings.ts").read_text(encoding="utf-8")
    block = re.search(r"export const COMPLETION_KEYS = \[(.*?)\] as const", source, re.S)
    assert block is not None and sorted(re.findall(r'"(\w+)"', block.group(1))) == sorted(COMPLETION_KEYS)


def test_the_extension_sends_every_server_setting() -> None:
    source = (VSCODE / "src" / "settings.ts").read_text(encoding="utf-8")
    block = re.search(r"export const SERVER_KEYS = \[(.*?)\] as const", source, re.S)
    assert block is not None
    assert sorted(re.findall(r'"(\w+)"', block.group(1))) == sorted(CONFIG_KEYS)


def test_manifest_packages_without_escape_flags() -> None:
    assert "--allow-missing-repository" not in MANIFEST["scripts"]["package"]
    assert "--skip-license" not in MANIFEST["scripts"]["package"]
    assert MANIFEST["publisher"] and "example" not in MANIFEST["repository"]["url"]
    assert "Apache License" in (VSCODE / "LICENSE").read_text(encoding="utf-8")[:200]
    icon = (VSCODE / MANIFEST["icon"]).read_bytes()
    width, height = struct.unpack(">II", icon[16:24])  # the PNG IHDR chunk
    assert icon[:8] == b"\x89PNG\r\n\x1a\n" and width >= 128 and height >= 128


def test_edit_selection_has_a_keybinding_and_context_menu_entry() -> None:
    contributes = MANIFEST["contributes"]
    commands = {c["command"] for c in contributes["commands"]}
    bound = [k for k in contributes["keybindings"] if k["command"] == "amigo.editSelection"]
    assert bound and bound[0]["key"] and bound[0]["mac"]
    in_menu = {m["command"] for m in contributes["menus"]["editor/context"]}
    assert {"amigo.editSelection", "amigo.fixThisBug"} <= in_menu <= commands
    assert "amigo.showDoctor" in commands


def test_doctor_json_is_what_the_status_bar_reads(tmp_path: Path) -> None:
    """The fields statusText (editors/vscode/src/settings.ts) reads, from a real server up and down."""
    import os
    import subprocess
    import sys

    from helpers import RecordedModelServer

    def doctor(endpoint: str) -> tuple[int, dict]:
        env = {**os.environ, "AMIGO_ENDPOINT": endpoint, "AMIGO_DECODING": "free", "AMIGO_MODEL": "recorded"}
        done = subprocess.run([sys.executable, "-m", "amigo", "doctor", "--json"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        return done.returncode, json.loads(done.stdout)

    with RecordedModelServer() as server:
        status, up = doctor(server.base_url)
    assert status == 0 and up["server"] == "up" and up["server_models"] == ["recorded"]
    assert up["model"] == "recorded" and up["decoding"] == "free" and up["decoding_in_use"] == "free"
    status, down = doctor(server.base_url)  # closed now
    assert status == 1 and down["server"] == "down" and "amigo serve" in down["server_error"]
