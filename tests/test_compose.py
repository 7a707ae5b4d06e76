"""Checks of the local Grafana stack in compose/: the Compose file is valid and every link between services holds."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE_DIR = Path(__file__).resolve().parent.parent / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"


def _load(name: str) -> Any:
    return yaml.safe_load((COMPOSE_DIR / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = _load("compose.yaml")
    return document


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_compose_file_valid_for_docker_compose(tmp_path: Path) -> None:
    # Run from another folder, as a user starting the stack from the repository root would.
    result = subprocess.run(
        ["docker-compose", "--file", str(COMPOSE_FILE), "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == {"otelcol", "tempo", "loki", "prometheus", "grafana"}


def test_images_pinned_to_versions(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: image {image} has no tag"
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: image {image} is not pinned to a version"


def test_ports_published_on_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: port {port} is published beyond loopback"


def test_collector_ports_match_otlp_defaults(compose: dict[str, Any]) -> None:
    ports = compose["services"]["otelcol"]["ports"]

    assert "127.0.0.1:4317:4317" in ports
    assert "127.0.0.1:4318:4318" in ports


def test_mounted_config_files_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (COMPOSE_DIR / source).exists(), f"{name}: mounted path {source} is missing"


def test_collector_pipelines_reach_every_backend() -> None:
    config = _load("otelcol.yaml")
    pipelines = config["service"]["pipelines"]
    defined = set(config["exporters"]) | set(config["processors"]) | set(config["receivers"])

    assert set(pipelines) == {"traces", "logs", "metrics"}
    for name, pipeline in pipelines.items():
        assert pipeline["receivers"] == ["otlp"], name
        for component in pipeline["receivers"] + pipeline.get("processors", []) + pipeline["exporters"]:
            assert component in defined, f"pipeline {name} uses undefined component {component}"
    assert "otlp_grpc/tempo" in pipelines["traces"]["exporters"]
    assert "otlp_http/loki" in pipelines["logs"]["exporters"]
    assert "otlp_http/prometheus" in pipelines["metrics"]["exporters"]


def test_exporters_address_compose_services(compose: dict[str, Any]) -> None:
    exporters = _load("otelcol.yaml")["exporters"]
    services = set(compose["services"])

    for name, exporter in exporters.items():
        endpoint = exporter.get("endpoint")
        if endpoint is None:
            continue
        host = re.sub(r"^\w+://", "", endpoint).split(":", 1)[0]
        assert host in services, f"exporter {name} sends to {host}, which is not a compose service"


def test_grafana_links_traces_and_logs() -> None:
    datasources = {
        source["uid"]: source for source in _load("grafana/provisioning/datasources/datasources.yaml")["datasources"]
    }

    assert set(datasources) == {"tempo", "loki", "prometheus"}
    traces_to_logs = datasources["tempo"]["jsonData"]["tracesToLogsV2"]
    assert traces_to_logs["datasourceUid"] == "loki"
    assert "trace_id" in traces_to_logs["query"]
    derived = datasources["loki"]["jsonData"]["derivedFields"]
    assert [field["datasourceUid"] for field in derived] == ["tempo"]
    assert derived[0]["matcherRegex"] == "^trace_id$"


def test_backends_keep_old_records() -> None:
    loki = _load("loki.yaml")
    tempo = _load("tempo.yaml")
    prometheus = _load("prometheus.yaml")

    assert loki["limits_config"]["reject_old_samples"] is False
    assert loki["ingester"]["max_chunk_age"] == "48h"
    assert tempo["live_store"]["wal"]["ingestion_time_range_slack"] == "87600h"
    assert tempo["backend_worker"]["compaction"]["block_retention"] == "87600h"
    assert prometheus["storage"]["tsdb"]["out_of_order_time_window"] == "8760h"
