"""Session fixtures shared by every test: the real local stack and small helpers around it.

The stack (Kafka + kube-apiserver) is started once per session, or reused if
one is already running for the configured state directory, and stopped at
the end only if this session started it. Tests that use any of these fixtures
are marked ``integration`` automatically, so ``pytest -m "not integration"``
is the fast tier. Unique namespaces and topics keep tests independent on a
shared, long-lived stack (namespaces are never deleted: without a
controller-manager their deletion never finishes).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from sendpipe.settings import StackSettings
from sendpipe.stack import StackInfo, build, is_built, shared_stack
from sendpipe.stack.kafka import run_coroutine
from sendpipe.stack.kubectl import Kubectl

STACK_FIXTURES = frozenset(
    {"stack", "kafka_bootstrap", "kubeconfig", "kubectl", "k8s_api", "unique_namespace", "kafka_topic_factory"}
)


def _uses_stack(item: pytest.Item) -> bool:
    return bool(STACK_FIXTURES.intersection(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_stack(item):
            item.add_marker(pytest.mark.integration)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the stack's binaries before any test runs, outside the per-test timeout.

    Only when a selected test needs the stack and the cache lacks them (a cold
    build takes minutes; `make test` does it beforehand with visible progress).
    """
    settings = StackSettings()
    if not any(_uses_stack(item) for item in session.items) or is_built(settings):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"sendpipe: building the local stack into {settings.resolved_cache_dir} "
            "(first build takes minutes; `sendpipe stack build` shows progress)"
        )
    build(settings)


@pytest.fixture(scope="session")
def stack_settings() -> StackSettings:
    return StackSettings()


@pytest.fixture(scope="session")
def stack(stack_settings: StackSettings) -> Iterator[StackInfo]:
    """The running local stack: started here if none runs (first build takes minutes), and
    stopped at the end only if this session started it and no other session still uses it."""
    with shared_stack(stack_settings) as info:
        yield info


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: StackInfo) -> str:
    return stack.kafka_bootstrap


@pytest.fixture(scope="session")
def kubeconfig(stack: StackInfo) -> Path:
    return stack.kubeconfig


@pytest.fixture(scope="session")
def kubectl(stack: StackInfo) -> Kubectl:
    return Kubectl(binary=stack.kubectl, kubeconfig=stack.kubeconfig)


@pytest.fixture(scope="session")
def k8s_api(stack: StackInfo) -> Iterator[k8s.ApiClient]:
    """A kubernetes-client ApiClient authenticated as the stack's admin."""
    api = k8s_config.new_client_from_config(config_file=str(stack.kubeconfig))
    yield api
    api.close()


def _slug(text: str, *, limit: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "t"


@pytest.fixture
def unique_namespace(request: pytest.FixtureRequest, k8s_api: k8s.ApiClient) -> str:
    """A fresh namespace named after the test (never deleted; see the module docstring)."""
    name = f"{_slug(request.node.name, limit=40)}-{uuid.uuid4().hex[:8]}"
    k8s.CoreV1Api(k8s_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


@pytest.fixture
def kafka_topic_factory(request: pytest.FixtureRequest, kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """``make(partitions=1, compacted=False) -> name``: creates a uniquely named topic, deleted afterwards."""
    created: list[str] = []

    async def _admin(action: Callable[[AIOKafkaAdminClient], object]) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await action(admin)  # type: ignore[misc]
        finally:
            await admin.close()

    def make(partitions: int = 1, *, compacted: bool = False) -> str:
        name = f"test.{_slug(request.node.name, limit=60)}.{uuid.uuid4().hex[:8]}"
        configs = {"cleanup.policy": "compact"} if compacted else {}
        topic = NewTopic(name=name, num_partitions=partitions, replication_factor=1, topic_configs=configs)
        run_coroutine(_admin(lambda admin: admin.create_topics([topic])))
        created.append(name)
        return name

    yield make
    if created:
        run_coroutine(_admin(lambda admin: admin.delete_topics(created)))
