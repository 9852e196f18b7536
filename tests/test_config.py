"""Settings: defaults < YAML < environment < overrides; validation; secrets; README sync."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from medgemma.config import Settings, child_environment, load_settings, markdown_table
from medgemma.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_defaults_and_home_from_env(isolated_home):
    s = load_settings()
    assert s.model == "gemma-3-270m"
    assert s.port == 7860 and s.host == "127.0.0.1"
    assert s.home_path == isolated_home.resolve()
    assert s.path("index") == isolated_home.resolve() / "index"


def test_precedence_yaml_env_overrides(tmp_path, monkeypatch):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("port: 8000\nretrieval_k: 6\nshare: true\n")
    monkeypatch.setenv("MEDGEMMA_PORT", "9000")
    s = load_settings(cfg, overrides={"retrieval_k": 3})
    assert s.port == 9000  # env beats YAML
    assert s.retrieval_k == 3  # overrides beat everything
    assert s.share is True  # YAML beats defaults


def test_config_env_var_points_at_yaml(tmp_path, monkeypatch):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("temperature: 0.0\n")
    monkeypatch.setenv("MEDGEMMA_CONFIG", str(cfg))
    assert load_settings().temperature == 0.0


@pytest.mark.parametrize(
    "env,value,message",
    [
        ("MEDGEMMA_PORT", "http", "expects int"),
        ("MEDGEMMA_PORT", "-1", "must be positive"),
        ("MEDGEMMA_SHARE", "maybe", "expects bool"),
        ("MEDGEMMA_BACKEND", "tensorflow", "must be one of"),
        ("MEDGEMMA_TEMPERATURE", "9", "within 0..5"),
    ],
)
def test_bad_values_name_the_setting(monkeypatch, env, value, message):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_unknown_key_and_secret_in_yaml_are_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("prot: 1\n")
    with pytest.raises(ConfigError, match="Unknown setting 'prot'"):
        load_settings(bad)
    secret = tmp_path / "secret.yaml"
    secret.write_text("admin_password: hunter2\n")
    with pytest.raises(ConfigError, match="environment only"):
        load_settings(secret)
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(broken)


@pytest.mark.parametrize(
    "text,message",
    [
        ("a: 1\nb: [unclosed\n", r"c\.yaml is not valid YAML \(line 3: expected ',' or ']'"),
        ("a: 1\n\tb: 2\n", r"c\.yaml is not valid YAML \(line 2: found character '\\t'"),
        ('a: "x\x07"\n', r"c\.yaml is not valid YAML \(line 1: special characters"),
        ("- a\n- b\n", r"c\.yaml must hold a mapping of names to values, not a list"),
        ("just words\n", r"c\.yaml must hold a mapping of names to values, not a str"),
    ],
)
def test_one_yaml_reader_names_the_file_and_the_line(tmp_path, text, message):
    from medgemma.storage import read_yaml
    from medgemma.training.config import load_config

    (tmp_path / "c.yaml").write_text(text)
    for read in (read_yaml, load_settings, load_config):
        with pytest.raises(ConfigError, match=message):
            read(tmp_path / "c.yaml")
    (tmp_path / "empty.yaml").write_text("# nothing set\n")
    assert read_yaml(tmp_path / "empty.yaml") == {}
    with pytest.raises(ConfigError, match="Training config not found"):
        load_config(tmp_path / "missing.yaml")


def test_secrets_never_in_repr_or_public_dict(monkeypatch):
    monkeypatch.setenv("MEDGEMMA_ADMIN_PASSWORD", "s3cret-value")
    s = load_settings()
    assert s.admin_password == "s3cret-value"
    assert "s3cret-value" not in repr(s)
    assert "admin_password" not in s.public_dict()


def test_readme_table_lists_every_setting():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "README configuration table is stale: paste config.markdown_table()"


def test_space_yaml_matches_readme_front_matter():
    space = yaml.safe_load((REPO / "space.yaml").read_text())
    front = yaml.safe_load((REPO / "README.md").read_text().split("---")[1])
    for key in ("sdk", "sdk_version", "app_file", "python_version", "title", "license"):
        assert space[key] == front[key], key
    pins = dict(
        re.findall(
            r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s#]+)", (REPO / "requirements.txt").read_text(), re.M
        )
    )
    assert space["sdk"] == "gradio" and space["sdk_version"] == pins["gradio"]
    assert space["app_file"] == "app.py"


def test_every_setting_has_a_doc():
    import dataclasses

    for f in dataclasses.fields(Settings):
        assert f.metadata.get("doc"), f.name


def test_a_job_child_gets_the_parents_settings_not_the_shells(tmp_path, monkeypatch):
    """jobs.launch runs `python -m medgemma ...` with child_environment: the run's settings.yaml decides,
    so an app built from its own Settings (another home, say) is what its jobs see; secrets stay in the env."""
    app = load_settings(env={"MEDGEMMA_HOME": str(tmp_path / "app-home"), "MEDGEMMA_RETRIEVAL_K": "7"})
    written = tmp_path / "settings.yaml"
    written.write_text(yaml.safe_dump(app.public_dict()))
    monkeypatch.setenv("MEDGEMMA_HOME", str(tmp_path / "shell-home"))
    monkeypatch.setenv("MEDGEMMA_RETRIEVAL_K", "2")
    monkeypatch.setenv("MEDGEMMA_ADMIN_PASSWORD", "s3cret")
    env = child_environment(written)
    assert "MEDGEMMA_HOME" not in env and env["MEDGEMMA_CONFIG"] == str(written)
    assert env["MEDGEMMA_ADMIN_PASSWORD"] == "s3cret" and env["PATH"]
    child = load_settings(env=env)
    assert str(child.home) == str(app.home) and child.retrieval_k == 7 and child.admin_password == "s3cret"
    assert "s3cret" not in written.read_text()
