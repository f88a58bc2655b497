"""Throughput of one worker process vs a naive baseline, failover reaction, end-to-end latency.

Against the real local Kafka broker (``sendpipe.stack.ensure_stack``) and the
simulator in a child process with 20 ms latency on the SendGrid API. Printed:

1. throughput: one ``sendpipe worker`` process (200 in flight) draining N
   pre-produced messages, next to a naive baseline measured in the same run:
   a plain aiokafka consumer + the same adapter/HTTP client with the same
   parallelism, no health, dedupe, events or ordered commits. Baseline and
   worker alternate for ``--rounds`` rounds, each round in the other order
   (this machine's speed drifts by +-15% within minutes); the ratio is of the
   medians. Also printed: each side's CPU per message (the process's, all
   threads), steadier than rates on a noisy machine. Both processes run
   with the worker's garbage-collector policy (``sendpipe.worker.gc_policy``),
   so the ratio measures the worker's machinery, not GC settings; for the
   same reason both run on the worker's event loop (``--event-loop``, default
   the worker's ``SENDPIPE_WORKER_EVENT_LOOP``).
   Targets: worker >= 80% of the baseline and >= 1,000 msg/s;
2. failover reaction: at half of the maximum throughput, the primary starts failing 100%;
   first attempts (not probes) that still go to it, and the delay of the last one
   (target < 1 s);
3. end-to-end latency (producer timestamp -> DeliveryEvent completedAt),
   p50/p99, at half of the measured maximum throughput.

Run: ``python bench/worker_throughput.py [--messages 20000] [--rounds 5] [--event-loop uvloop]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sendpipe.bus import admin  # noqa: E402
from sendpipe.core.catalog import get_package  # noqa: E402
from sendpipe.core.messages import parse_send_request  # noqa: E402
from sendpipe.core.records import RoutedProvider  # noqa: E402
from sendpipe.providers import ProviderClient, get_adapter  # noqa: E402
from sendpipe.simulator import SimulatorProcess  # noqa: E402
from sendpipe.settings import StackSettings, WorkerSettings  # noqa: E402
from sendpipe.stack import ensure_stack  # noqa: E402
from sendpipe.worker import gc_policy  # noqa: E402
from tests.worker.harness import Bench, Events, WorkerProcess, email, produce  # noqa: E402

IN_FLIGHT = 200
LATENCY_MS = 20


async def produce_all(bootstrap: str, topic: str, payloads: list[tuple[bytes, bytes]]) -> None:
    await produce(bootstrap, topic, list(payloads), linger_ms=20, max_batch_size=512 * 1024)


async def produce_at_rate(bootstrap: str, topic: str, payloads: list[tuple[bytes, bytes]], rate: float) -> None:
    """Produce at ``rate``; a payload of b"" is built now, stamped with the send time in metadata.t."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    try:
        started = time.perf_counter()
        for index, (key, value) in enumerate(payloads):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if not value:
                value = email(key.decode(), "latency", metadata={"t": repr(time.time())})
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Burst:
    """One drained burst: messages per second, and the CPU the process spent per message meanwhile."""

    rate: float
    cpu_us: float


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all threads (Linux /proc; utime and stime are fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def baseline(bench: Bench, sim: SimulatorProcess, provider: RoutedProvider, *, total: int, round_: int = 0) -> Burst:
    """A plain aiokafka consumer + the same adapter and HTTP client, IN_FLIGHT sends at a time."""
    topic = f"{bench.topics.send_prefix}baseline{round_}"  # same shape, not consumed by the worker
    await admin.ensure_topics(bench.kafka, [admin.TopicSpec(topic, bench.partitions)])
    await produce_all(bench.bootstrap, topic, [(f"b{i}".encode(), email(f"b{i}", "bench")) for i in range(total)])
    package = get_package(provider.package)
    config = sim.config(provider.package)
    credentials = package.credentials.model_validate(config["credentials"])
    settings = package.settings.model_validate(config["settings"])
    adapter = get_adapter(provider.package)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bench.bootstrap, group_id=f"baseline-{bench.tag}-{round_}", auto_offset_reset="earliest"
    )
    await consumer.start()
    done = 0
    slots = asyncio.Semaphore(IN_FLIGHT)
    finished = asyncio.Event()
    started: float | None = None
    cpu_started = 0.0

    async with ProviderClient(max_connections=IN_FLIGHT) as client:

        async def send(raw: bytes) -> None:
            nonlocal done
            try:
                request = parse_send_request(raw)
                await adapter.send(request, credentials=credentials, settings=settings, client=client)
            finally:
                slots.release()
                done += 1
                if done >= total:
                    finished.set()

        tasks = set()
        try:
            while not finished.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=IN_FLIGHT)
                for records in batches.values():
                    for record in records:
                        if started is None:
                            started, cpu_started = time.perf_counter(), time.process_time()
                        await slots.acquire()
                        task = asyncio.create_task(send(record.value))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                if done >= total:
                    break
            await finished.wait()
        finally:
            await consumer.stop()
    assert started is not None
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return Burst(total / elapsed, cpu / total * 1e6)


async def worker_throughput(bench: Bench, worker: WorkerProcess, *, total: int, round_: int = 0) -> Burst:
    """Messages per second from the end of producing (like the baseline, whose producer is done before it
    starts) to the last DeliveryEvent, by the events' broker timestamps. Progress is watched on the worker's
    /stats page: an events reader running meanwhile would take CPU from the worker (2 cores)."""
    ids = [f"w{round_}-{i}" for i in range(total)]
    finished_before = sum((await asyncio.to_thread(worker.json, "/stats"))["finished"].values())
    await produce_all(bench.bootstrap, bench.send_topic("email"), [(i.encode(), email(i, "bench")) for i in ids])
    assert worker.proc is not None
    pid = worker.proc.pid
    produced_at, cpu_started = time.time(), process_cpu_seconds(pid)
    for _ in range(1200):
        if sum((await asyncio.to_thread(worker.json, "/stats"))["finished"].values()) >= finished_before + total:
            break
        await asyncio.sleep(0.5)
    cpu = process_cpu_seconds(pid) - cpu_started
    wanted = {i.encode() for i in ids}
    async with Events(bench.bootstrap, bench.topics.events) as events:
        await events.until(lambda: sum(1 for r in events.records if r.key in wanted) >= total, timeout=120, what="all events")
        stamps = [r.timestamp / 1000.0 for r in events.records if r.key in wanted]
    after = [stamp for stamp in stamps if stamp >= produced_at]
    return Burst(len(after) / (max(after) - produced_at), cpu / len(after) * 1e6)


async def failover_reaction(bench: Bench, sim: SimulatorProcess, *, rate: float) -> tuple[int, float]:
    ns = "reaction"
    ids = [f"r{i}" for i in range(int(rate * 6))]
    payloads = [(i.encode(), email(i, ns)) for i in ids]
    async with Events(bench.bootstrap, bench.topics.events) as events:
        producing = asyncio.create_task(produce_at_rate(bench.bootstrap, bench.send_topic("email"), payloads, rate))
        await asyncio.sleep(2.0)
        fail_at = time.time()
        sim.set_fault("provider-sendgrid", failure_rate=1.0, error="server_error", latency_ms=LATENCY_MS)
        await producing
        await events.until(lambda: {r.key.decode() for r in events.records} >= set(ids), timeout=120, what="events")
        by_id = events.by_id()
    sim.set_fault("provider-sendgrid", latency_ms=LATENCY_MS)
    late = [
        a.started_at.timestamp() - fail_at
        for i in ids
        for a in by_id[i][0].attempts[:1]
        if a.provider == "primary" and not a.probe and a.started_at.timestamp() >= fail_at
    ]
    return len(late), max(late, default=0.0)


async def latency_at(bench: Bench, *, rate: float, seconds: float) -> tuple[float, float]:
    ns = "latency"
    count = int(rate * seconds)
    ids = [f"l{i}" for i in range(count)]
    payloads = [(i.encode(), b"") for i in ids]
    async with Events(bench.bootstrap, bench.topics.events) as events:
        await produce_at_rate(bench.bootstrap, bench.send_topic("email"), payloads, rate)
        await events.until(lambda: {r.key.decode() for r in events.records} >= set(ids), timeout=120, what="events")
        arrived = {r.key.decode(): r.timestamp / 1000.0 for r in events.records}
        by_id = events.by_id()
    # Producer send time (metadata.t) -> the DeliveryEvent's broker timestamp.
    latencies = sorted((arrived[i] - float(by_id[i][0].metadata["t"])) * 1000.0 for i in ids)  # type: ignore[index]
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


async def settle(worker: WorkerProcess) -> None:
    """Wait until the health agent has caught up with the burst's outcomes (its counter stops moving)."""
    previous = None
    for _ in range(120):
        text = (await asyncio.to_thread(worker.get, "/metrics"))[1].decode()
        current = next((line for line in text.splitlines() if line.startswith("sendpipe_health_outcomes_total")), "")
        if current == previous:
            return
        previous = current
        await asyncio.sleep(1.0)


async def main(total: int, rounds: int) -> None:
    info = ensure_stack(StackSettings())
    bench = Bench(info.kafka_bootstrap, partitions=4)
    await bench.create_topics()
    with SimulatorProcess(record_limit=1000) as sim:
        sim.set_fault("provider-sendgrid", latency_ms=LATENCY_MS)
        sim.set_fault("provider-mailgun", latency_ms=LATENCY_MS)
        primary = bench.provider(sim, "provider-sendgrid", name="primary", priority=1, timeout=5)
        secondary = bench.provider(sim, "provider-mailgun", name="secondary", priority=2, timeout=5)
        for ns in ("bench", "reaction", "latency"):
            await bench.publish_routing(ns, "email", [primary, secondary])

        log_dir = Path(tempfile.mkdtemp(prefix="sendpipe-bench-"))
        worker = WorkerProcess(bench, log_dir=log_dir, max_in_flight=IN_FLIGHT, health_ejection_base_seconds=60).start()
        try:
            await worker.wait_ready(90)
            gc_threshold = WorkerSettings().gc_young_threshold
            gc_policy.apply(gc_threshold)  # the same policy as the worker's (SENDPIPE_WORKER_GC_YOUNG_THRESHOLD)
            print(f"garbage collector (both): freeze after start, young threshold {gc_threshold or 'default'}", flush=True)
            print(f"event loop (both): {type(asyncio.get_running_loop()).__module__}", flush=True)
            bases: list[Burst] = []
            runs: list[Burst] = []
            for round_ in range(rounds):
                # Alternate which goes first: this machine's speed drifts within minutes.
                for side in ("baseline", "worker") if round_ % 2 == 0 else ("worker", "baseline"):
                    if side == "baseline":
                        bases.append(await baseline(bench, sim, primary, total=total, round_=round_))
                    else:
                        await settle(worker)
                        runs.append(await worker_throughput(bench, worker, total=total, round_=round_))
                print(
                    f"round {round_ + 1}: baseline {bases[-1].rate:,.0f} msg/s ({bases[-1].cpu_us:.0f} us CPU/msg), "
                    f"worker {runs[-1].rate:,.0f} msg/s ({runs[-1].cpu_us:.0f} us CPU/msg) = {runs[-1].rate / bases[-1].rate:.0%}",
                    flush=True,
                )
            base = statistics.median(b.rate for b in bases)
            rate = statistics.median(r.rate for r in runs)
            base_cpu = statistics.median(b.cpu_us for b in bases)
            worker_cpu = statistics.median(r.cpu_us for r in runs)
            print(f"baseline (aiokafka + same adapter/client, {IN_FLIGHT} in flight): {base:,.0f} msg/s (median)", flush=True)
            print(
                f"worker (1 process, {IN_FLIGHT} in flight, {LATENCY_MS} ms provider latency): {rate:,.0f} msg/s (median) "
                f"= {rate / base:.0%} of baseline (targets: >= 80%, >= 1,000 msg/s)",
                flush=True,
            )
            print(
                f"CPU per message (median; each is bound by one core, its GIL): baseline {base_cpu:.0f} us, "
                f"worker {worker_cpu:.0f} us (all threads) = {base_cpu / worker_cpu:.0%} of the worker's cost",
                flush=True,
            )
            half = rate / 2
            await settle(worker)
            p50, p99 = await latency_at(bench, rate=half, seconds=8)
            print(f"end-to-end latency at {half:,.0f} msg/s (produce -> DeliveryEvent in Kafka): p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)
            late, last = await failover_reaction(bench, sim, rate=half)
            print(
                f"failover reaction at {half:,.0f} msg/s: {late} first attempts still went to the failing primary, "
                f"the last {last * 1000:.0f} ms after it began failing (target < 1 s)",
                flush=True,
            )
            stats = worker.json("/stats")
            print(json.dumps({k: v for k, v in stats.items() if k != "windows"}))
        finally:
            worker.stop()
            print(f"worker log: {worker.log_path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--event-loop", choices=["asyncio", "uvloop"], default=WorkerSettings().event_loop)
    arguments = parser.parse_args()
    os.environ["SENDPIPE_WORKER_EVENT_LOOP"] = arguments.event_loop  # the worker process's loop
    loop_factory = None
    if arguments.event_loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:  # the bench's own loop: the baseline's
        runner.run(main(arguments.messages, arguments.rounds))
