"""The stack's building blocks without a running stack: ports, files it generates, process handling."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import config as k8s_config

from sendpipe.settings import StackSettings
from sendpipe.stack import gobuild, kafka, maven, pki, ports, processes, sessions, tools
from sendpipe.stack.commands import env_exports
from sendpipe.stack.errors import StackError
from sendpipe.stack.state import StackInfo

K8S_GO_MOD = """\
module k8s.io/kubernetes

go 1.26.0

require (
\tgo.etcd.io/etcd/client/v3 v3.7.0
\tgo.etcd.io/etcd/server/v3 v3.7.0 // indirect
\tk8s.io/api v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
)
"""


def test_free_ports_are_distinct_and_bindable() -> None:
    picked = ports.free_ports(5)
    assert len(set(picked)) == 5
    for port in picked:
        with socket.socket() as sock:
            sock.bind((ports.LOOPBACK, port))


def test_port_open_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind((ports.LOOPBACK, 0))
        sock.listen()
        assert ports.port_open(sock.getsockname()[1])
    assert not ports.port_open(ports.free_ports(1)[0])


def test_go_mod_replaces_every_staging_module_with_its_published_version() -> None:
    parsed = gobuild.parse_kubernetes_go_mod(K8S_GO_MOD)
    assert parsed.go_version == (1, 26)
    assert parsed.etcd_version == "v3.7.0"
    text = gobuild.render_go_mod(kubernetes_version="v1.37.2", parsed=parsed)
    assert "\tk8s.io/api => k8s.io/api v0.37.2\n" in text
    assert "\tk8s.io/client-go => k8s.io/client-go v0.37.2\n" in text
    assert "\tgo.etcd.io/etcd/server/v3 v3.7.0\n" in text
    assert "go 1.26.0" in text
    assert "gitVersion=v1.37.2" in gobuild.version_ldflags("v1.37.2")


def test_bad_kubernetes_version_is_a_clear_error() -> None:
    with pytest.raises(StackError, match="v1.<minor>.<patch>"):
        gobuild.staging_version("1.37")


def test_pom_adds_the_log4j2_binding_once_the_version_is_known() -> None:
    first = maven.render_pom(maven.kafka_coordinates("4.4.0", log4j_version=None))
    assert "<artifactId>kafka_2.13</artifactId><version>4.4.0</version>" in first
    assert "log4j-slf4j-impl" not in first
    second = maven.render_pom(maven.kafka_coordinates("4.4.0", log4j_version="2.25.5"))
    assert "<artifactId>log4j-slf4j-impl</artifactId><version>2.25.5</version>" in second
    legacy = maven.render_pom(maven.kafka_coordinates("3.9.1", log4j_version=None))
    assert "slf4j-reload4j" in legacy


def test_log4j_version_is_read_from_the_resolved_jars(tmp_path: Path) -> None:
    (tmp_path / "log4j-core-2.25.5.jar").touch()
    assert maven.find_log4j_version(tmp_path) == "2.25.5"


def test_kafka_properties_are_single_node_on_loopback(tmp_path: Path) -> None:
    props = kafka.server_properties(broker_port=1234, controller_port=1235, data_dir=tmp_path)
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:1234,CONTROLLER://127.0.0.1:1235"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:1235"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert all(not kafka.new_cluster_id().startswith("-") for _ in range(200))


def test_kubeconfig_is_loadable_by_the_kubernetes_client(tmp_path: Path) -> None:
    creds = pki.generate(tmp_path)
    path = pki.write_kubeconfig(
        tmp_path / "kubeconfig", server="https://127.0.0.1:6443", ca_cert=creds.ca_cert, token=creds.admin_token
    )
    assert path.stat().st_mode & 0o777 == 0o600
    assert yaml.safe_load(path.read_text())["users"][0]["user"]["token"] == creds.admin_token
    api = k8s_config.new_client_from_config(config_file=str(path))
    try:
        assert api.configuration.host == "https://127.0.0.1:6443"
    finally:
        api.close()
    assert creds.admin_token in creds.token_file.read_text()
    assert "system:masters" in creds.token_file.read_text()


def test_state_dir_defaults_under_the_cache_and_is_overridable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SENDPIPE_STATE_DIR", raising=False)
    assert StackSettings(cache_dir=tmp_path).resolved_state_dir == tmp_path / "state"
    other = StackSettings(cache_dir=tmp_path, state_dir=tmp_path / "b")
    assert other.resolved_state_dir == tmp_path / "b"


def test_env_exports_quote_paths(tmp_path: Path) -> None:
    info = StackInfo(
        state_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:9092",
        kubeconfig=tmp_path / "my dir" / "kubeconfig",
        kubectl=tmp_path / "bin" / "kubectl",
        api_server_url="https://127.0.0.1:6443",
        admin_token="t",
        ca_cert=tmp_path / "ca.crt",
        pids={},
        started=False,
    )
    out = env_exports(info)
    assert f"export KUBECONFIG='{tmp_path}/my dir/kubeconfig'" in out
    assert "export SENDPIPE_KAFKA_BOOTSTRAP=127.0.0.1:9092" in out
    assert f'export PATH={tmp_path}/bin:"$PATH"' in out


def test_missing_tool_names_what_to_install() -> None:
    with pytest.raises(StackError, match="not found on PATH: install"):
        tools.require_tool("definitely-not-a-sendpipe-tool")


def test_detached_process_is_stopped_and_leaves_no_zombie(tmp_path: Path) -> None:
    marker = f"{tmp_path}/"
    pid = processes.spawn_detached(
        [sys.executable, "-c", "import time; time.sleep(120)", marker],
        name="sleeper",
        log_path=tmp_path / "sleep.log",
        cwd=tmp_path,
    )
    assert processes.is_ours(pid, marker=marker)
    assert not processes.is_ours(pid, marker="/somewhere/else/")
    processes.stop(pid, marker=marker, name="sleeper", grace=5)
    assert not processes.is_running(pid)


def test_process_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    marker = f"{tmp_path}/"
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(120)"
    log = tmp_path / "stubborn.log"
    pid = processes.spawn_detached([sys.executable, "-c", code, marker], name="stubborn", log_path=log, cwd=tmp_path)
    while "ready" not in log.read_text():
        time.sleep(0.02)
    processes.stop(pid, marker=marker, name="stubborn", grace=0.5)
    assert not processes.is_running(pid)


def test_leases_of_dead_sessions_are_dropped(tmp_path: Path) -> None:
    (tmp_path / str(os.getpid())).touch()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / dead.stdout.strip()).touch()
    (tmp_path / "junk").touch()
    assert sessions._live_leases(tmp_path) == [os.getpid()]
    assert [p.name for p in tmp_path.iterdir()] == [str(os.getpid())]
