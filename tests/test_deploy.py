"""deploy/: the compose recipe parses, every MEDGEMMA_* setting it passes exists in medgemma/config.py and loads
(secrets only through env files that git ignores), the load balancer names the app replicas with sticky
sessions and the health path the launched app really serves, and the services point at each other."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
import yaml
from live_app import serve

from medgemma.config import field_specs, load_settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
APPS = ("app1", "app2")
FIELDS = {f"MEDGEMMA_{f.name.upper()}": f for f in field_specs()}
SECRETS = {name for name, f in FIELDS.items() if f.metadata.get("secret")}
OTHER_SECRETS = {"POSTGRES_PASSWORD", "HF_TOKEN", "VLLM_API_KEY", "--api-key"}  # the db's and vLLM's


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def env_file(name: str) -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def env_files(service: dict) -> list[str]:
    return [e["path"] if isinstance(e, dict) else e for e in service.get("env_file", [])]


def caddy_upstreams() -> list[str]:
    text = (DEPLOY / "Caddyfile").read_text()
    return re.search(r"reverse_proxy ([^{]+)\{", text).group(1).split()


def test_the_recipe_has_its_services(compose):
    services = compose["services"]
    assert set(services) == {*APPS, "db", "vllm", "lb"}
    assert services["db"]["image"].startswith("pgvector/pgvector:")
    assert services["vllm"]["image"].startswith("vllm/vllm-openai:")
    gpu = services["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and gpu["capabilities"] == ["gpu"]
    for name, service in services.items():
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name
    for name in APPS:
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["vllm"]["condition"] == "service_healthy"
        assert "7860" not in str(services[name].get("ports", "")), "replicas are reached through lb only"
    assert set(compose["volumes"]) >= {"pgdata", "hf-cache", "app1-home", "app2-home"}
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]


def test_every_medgemma_setting_exists_and_loads(compose):
    for name in APPS:
        environment = compose["services"][name]["environment"]
        unknown = sorted(k for k in environment if k.startswith("MEDGEMMA_") and k not in FIELDS)
        assert not unknown, f"{name} sets settings config.py does not have: {unknown}"
        assert not SECRETS & set(environment), f"{name} puts a secret in compose.yaml"
        files = env_files(compose["services"][name])
        assert files == ["app.env"]
        example = env_file("app.env.example")
        assert set(example) == SECRETS  # the example names exactly the secret settings
        # what the replica would start with (the example file standing in for app.env) passes config.py
        settings = load_settings(env={**{k: str(v) for k, v in environment.items()}, **example})
        assert settings.backend == "openai" and settings.mcp is True and settings.host == "0.0.0.0"
        assert settings.database_url.startswith("postgresql://")
    starters = [compose["services"][n]["environment"]["MEDGEMMA_STARTER_CORPUS"] for n in APPS]
    assert starters.count("none") == 1, "exactly one replica builds the starter knowledge base"


def test_secrets_come_from_env_files_git_ignores(compose):
    for name, service in compose["services"].items():
        named = set(service.get("environment") or {}) | set(map(str, service.get("command") or []))
        assert not named & (SECRETS | OTHER_SECRETS), f"{name} has a secret in compose.yaml"
        for path in env_files(service):
            assert path.endswith(".env") and (DEPLOY / f"{path}.example").is_file(), (name, path)
    assert set(env_file("db.env.example")) == {"POSTGRES_PASSWORD"}
    assert set(env_file("vllm.env.example")) == {"HF_TOKEN", "VLLM_API_KEY"}
    probe = [f"deploy/{n}" for n in ("app.env", "db.env", "vllm.env", ".env")]
    if subprocess.run(["git", "rev-parse"], cwd=DEPLOY, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout: git cannot say what it ignores")
    git = {"cwd": DEPLOY.parent, "capture_output": True, "text": True}
    assert subprocess.run(["git", "check-ignore", *probe], **git).stdout.split() == probe
    assert subprocess.run(["git", "check-ignore", "deploy/app.env.example"], **git).returncode == 1
    tracked = subprocess.run(["git", "ls-files", "deploy"], **git).stdout.split()
    assert not [t for t in tracked if t.endswith(".env")]


def test_the_services_point_at_each_other(compose):
    services = compose["services"]
    app_env = services["app1"]["environment"]
    url = urlparse(app_env["MEDGEMMA_OPENAI_BASE_URL"])
    vllm_args = services["vllm"]["command"]
    assert url.hostname == "vllm" and str(url.port) == vllm_args[vllm_args.index("--port") + 1]
    served = vllm_args[vllm_args.index("--served-model-name") + 1]
    assert app_env["MEDGEMMA_OPENAI_MODEL"] == served
    db_url = urlparse(env_file("app.env.example")["MEDGEMMA_DATABASE_URL"])
    assert db_url.hostname == "db" and db_url.username == services["db"]["environment"]["POSTGRES_USER"]
    assert db_url.path.lstrip("/") == services["db"]["environment"]["POSTGRES_DB"]
    assert db_url.password == env_file("db.env.example")["POSTGRES_PASSWORD"]
    assert (
        env_file("app.env.example")["MEDGEMMA_OPENAI_API_KEY"] == env_file("vllm.env.example")["VLLM_API_KEY"]
    )
    # the replicas trust X-Forwarded-For from the load balancer's fixed address, inside the network
    lb_ip = services["lb"]["networks"]["default"]["ipv4_address"]
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(lb_ip) in ipaddress.ip_network(subnet)
    assert app_env["MEDGEMMA_TRUSTED_PROXIES"] == lb_ip


def test_the_load_balancer_names_the_replicas_sticky(compose):
    port = compose["services"]["app1"]["environment"]["MEDGEMMA_PORT"]
    assert caddy_upstreams() == [f"{name}:{port}" for name in APPS]
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert re.search(r"^\s*lb_policy cookie\b", caddy, re.M), "Gradio's queue needs sticky sessions"
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in compose["services"]["lb"]["volumes"]


def test_the_health_path_is_served_by_the_app(compose, isolated_home):
    """The path Caddy and the compose health checks ask is answered by the app as it launches."""
    health = re.search(r"health_uri (\S+)", (DEPLOY / "Caddyfile").read_text()).group(1)
    for name in APPS:
        assert health in " ".join(compose["services"][name]["healthcheck"]["test"])
    with serve(load_settings(env={"MEDGEMMA_HOME": str(isolated_home)})) as app:
        assert httpx.get(app.url + health, timeout=30).status_code == 200


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker is not installed")
def test_docker_compose_accepts_the_recipe(tmp_path):
    """`docker compose config` where the compose plugin exists (it does not where this was written)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    work = tmp_path / "deploy"
    shutil.copytree(DEPLOY, work, ignore=shutil.ignore_patterns("*.env"))
    for name in ("app", "db", "vllm"):  # the examples stand in for the filled-in env files
        shutil.copy(DEPLOY / f"{name}.env.example", work / f"{name}.env")
    result = subprocess.run(["docker", "compose", "config", "-q"], cwd=work, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
