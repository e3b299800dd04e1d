from pathlib import Path

import pytest

from amigo.config import Config, load_config, user_config_path
from amigo.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path):
    config = load_config(tmp_path, environ={})
    assert config == Config().validate()
    assert config.sources == ()


def test_layers_user_then_repo_then_env(tmp_path):
    write(user_config_path(), 'endpoint = "http://user:1/v1"\nmodel = "user-model"\ncontext_budget = 100\n')
    write(tmp_path / "amigo.toml", 'model = "repo-model"\n[feedback]\nenabled = false\n')
    config = load_config(tmp_path, environ={"AMIGO_CONTEXT_BUDGET": "4096", "AMIGO_FEEDBACK__RETENTION_DELAY_S": "60"})
    assert config.endpoint == "http://user:1/v1"
    assert config.model == "repo-model"
    assert config.context_budget == 4096
    assert config.feedback.enabled is False
    assert config.feedback.retention_delay_s == 60
    assert len(config.sources) == 3


def test_api_key_only_from_env(tmp_path):
    write(tmp_path / "amigo.toml", 'api_key = "sk-live"\n')
    with pytest.raises(ConfigError, match="AMIGO_API_KEY"):
        load_config(tmp_path, environ={})
    (tmp_path / "amigo.toml").unlink()
    assert load_config(tmp_path, environ={"AMIGO_API_KEY": "k1"}).api_key == "k1"
    assert load_config(tmp_path, environ={"OPENAI_API_KEY": "k2"}).api_key == "k2"


@pytest.mark.parametrize(
    "text, needle",
    [
        ('endpont = "http://x/v1"\n', "unknown key 'endpont'"),
        ('edit_format = "diff"\n', "'edit_format' must be one of blocks, whole"),
        ('context_budget = "lots"\n', "'context_budget' has a bad value"),
        ("temperature = 9\n", "'temperature' must be between 0 and 2"),
        ('[feedback]\nenable = true\n', "unknown key 'feedback.enable'"),
        ('feedback = 3\n', "'feedback' must be a table"),
        ('endpoint = "localhost:8080"\n', "'endpoint' must be an http(s):// URL"),
        ("retries = true\n", "'retries' has a bad value"),
        ("model = [", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, needle):
    path = write(tmp_path / "amigo.toml", text)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, environ={})
    assert needle in str(err.value)
    if "TOML" not in needle:
        assert str(path) in str(err.value)


def test_bad_env_value_is_named(tmp_path):
    with pytest.raises(ConfigError, match="'AMIGO_MAX_TOKENS' has a bad value 'many'"):
        load_config(tmp_path, environ={"AMIGO_MAX_TOKENS": "many"})
    with pytest.raises(ConfigError, match="unknown key 'AMIGO_NONSENSE'"):
        load_config(tmp_path, environ={"AMIGO_NONSENSE": "1"})


def test_completion_table_from_file_and_environment(tmp_path):
    (tmp_path / "amigo.toml").write_text('[completion]\nfim = "qwen"\ndebounce_ms = 80\n')
    config = load_config(tmp_path, environ={"AMIGO_COMPLETION__MAX_TOKENS": "32"})
    assert (config.completion.fim, config.completion.debounce_ms, config.completion.max_tokens) == ("qwen", 80, 32)
    (tmp_path / "amigo.toml").write_text('[completion]\nfim = "gpt"\n')
    with pytest.raises(ConfigError, match="completion.fim"):
        load_config(tmp_path, environ={})


def test_candidates_unset_is_left_to_the_engine_and_can_be_set_back(tmp_path):
    """Unset, ``candidates`` is None (amigo.engine picks: several for the embedded model where the server
    decodes them together); a value from a file or the environment is taken as it is, and an empty
    AMIGO_CANDIDATES unsets it again."""
    assert load_config(tmp_path, environ={}).candidates is None
    write(tmp_path / "amigo.toml", "candidates = 1\n")
    assert load_config(tmp_path, environ={}).candidates == 1
    assert load_config(tmp_path, environ={"AMIGO_CANDIDATES": "6"}).candidates == 6
    assert load_config(tmp_path, environ={"AMIGO_CANDIDATES": ""}).candidates is None
    write(tmp_path / "amigo.toml", "candidates = 0\n")
    with pytest.raises(ConfigError, match="'candidates' must be between 1 and 16"):
        load_config(tmp_path, environ={})
