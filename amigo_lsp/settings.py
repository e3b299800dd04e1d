"""Editor settings (``initializationOptions`` and ``workspace/configuration``) -> Config.

Editors speak camelCase JSON; the core's :class:`amigo.config.Config` is the
one configuration. Editor values win over ``amigo.toml`` and the environment
for this editor only. A bad value is a :class:`ConfigError` naming the
setting, never a silent fallback.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from amigo.config import Config
from amigo.errors import ConfigError

# editor key -> (Config field, accepted JSON type)
CONFIG_KEYS: dict[str, tuple[str, str]] = {
    "endpoint": ("endpoint", "str"),
    "model": ("model", "str"),
    "adapter": ("adapter", "str"),
    "editFormat": ("edit_format", "str"),
    "decoding": ("decoding", "str"),
    "contextBudget": ("context_budget", "int"),
    "maxTokens": ("max_tokens", "int"),
    "temperature": ("temperature", "float"),
    "readTimeout": ("read_timeout", "float"),
    "connectTimeout": ("connect_timeout", "float"),
}
# editor key inside the ``completion`` object -> (CompletionSettings field, accepted JSON type)
COMPLETION_KEYS: dict[str, tuple[str, str]] = {
    "enabled": ("enabled", "bool"),
    "fim": ("fim", "str"),
    "debounceMs": ("debounce_ms", "int"),
    "maxTokens": ("max_tokens", "int"),
    "maxLines": ("max_lines", "int"),
    "latencyMs": ("latency_ms", "int"),
    "contextBudget": ("context_budget", "int"),
    "rejectAfterS": ("reject_after_s", "float"),
    "inStrings": ("in_strings", "bool"),
    "classicItems": ("classic_items", "bool"),
}
REVIEW_MODES = ("applyEdit", "client")
# Keys that belong to the editor side only (never Config fields).
CLIENT_KEYS = ("review", "serverCommand", "trace")


@dataclass(frozen=True)
class EditorSettings:
    """What the editor asked for: Config overrides (snake_case) and the review mode."""

    overrides: tuple[tuple[str, Any], ...] = ()
    review: str = "applyEdit"

    def apply(self, config: Config) -> Config:
        """A copy of ``config`` with the editor's overrides, validated (``completion.*`` go in its table)."""
        if not self.overrides:
            return config
        top = {k: v for k, v in self.overrides if not k.startswith("completion.")}
        nested = {k[len("completion."):]: v for k, v in self.overrides if k.startswith("completion.")}
        if nested:
            top["completion"] = dataclasses.replace(config.completion, **nested)
        return dataclasses.replace(config, **top).validate("editor settings")


_BY_SNAKE = {field: key for key, (field, _) in CONFIG_KEYS.items()}


def _check_type(key: str, value: Any, kind: str) -> Any:
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "bool" and isinstance(value, bool):
        return value
    expected = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false"}[kind]
    raise ConfigError(f"editor settings: 'amigo.{key}' must be {expected}, not {value!r}; fix it in your editor's settings")


def parse_settings(data: Any, base: EditorSettings | None = None) -> EditorSettings:
    """Read an ``amigo`` settings object (camelCase or snake_case keys; null = unset).

    ``base`` is kept for keys the new object does not mention, so that
    ``initializationOptions`` and later ``workspace/configuration`` layer.
    """
    base = base or EditorSettings()
    if data is None:
        return base
    if not isinstance(data, Mapping):
        raise ConfigError(f"editor settings: expected an object of Amigo settings, got {type(data).__name__}")
    overrides = dict(base.overrides)
    review = base.review
    for raw_key, value in data.items():
        key = raw_key if raw_key in CONFIG_KEYS or raw_key in CLIENT_KEYS else _BY_SNAKE.get(str(raw_key), raw_key)
        if key == "review":
            if value is None:
                continue
            if value not in REVIEW_MODES:
                raise ConfigError(f"editor settings: 'amigo.review' must be one of {', '.join(REVIEW_MODES)}, not {value!r}")
            review = value
            continue
        if key in CLIENT_KEYS:
            continue
        if key == "completion":
            _completion_overrides(value, overrides)
            continue
        if key not in CONFIG_KEYS:
            known = ", ".join(sorted([*CONFIG_KEYS, "review", "completion"]))
            raise ConfigError(f"editor settings: unknown setting 'amigo.{raw_key}' (known: {known})")
        field, kind = CONFIG_KEYS[key]
        if value is None:
            overrides.pop(field, None)
            continue
        overrides[field] = _check_type(key, value, kind)
    return EditorSettings(tuple(sorted(overrides.items())), review)


def _completion_overrides(data: Any, overrides: dict[str, Any]) -> None:
    """The ``completion`` object of the editor settings into ``completion.<field>`` overrides."""
    if data is None:
        return
    if not isinstance(data, Mapping):
        raise ConfigError(f"editor settings: 'amigo.completion' must be an object, not {data!r}")
    for key, value in data.items():
        if key not in COMPLETION_KEYS:
            known = ", ".join(sorted(COMPLETION_KEYS))
            raise ConfigError(f"editor settings: unknown setting 'amigo.completion.{key}' (known: {known})")
        field, kind = COMPLETION_KEYS[key]
        if value is None:
            overrides.pop(f"completion.{field}", None)
            continue
        overrides[f"completion.{field}"] = _check_type(f"completion.{key}", value, kind)


def settings_section(data: Any) -> Any:
    """The ``amigo`` part of what a client sent: ``{"amigo": {...}}`` or the object itself."""
    if isinstance(data, Mapping) and isinstance(data.get("amigo"), Mapping):
        return data["amigo"]
    return data
