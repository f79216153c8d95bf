"""Benchmark: bus hops/s against a raw redis-py loop, hop latency, and P partitions on Redis and a cluster.

Run with `make bench-bus` (python -m tools.bus_bench). On the Redis at REDIS_URL it uses fresh
namespaces and deletes them after; the Redis Cluster it starts for its last rows goes with them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from travel.saga.v1 import saga_pb2 as pb

from bus.consumer import Participant
from bus.context import StepContext
from bus.entries import entry_fields
from bus.keys import DEFAULT_PARTITIONS, BusKeys
from bus.outbox import OutboxRelay, add_many
from bus.outbox import metadata as outbox_metadata
from bus.publisher import publish_call
from bus.replies import parse_read_reply
from bus.scripts import PUBLISH_SCRIPT, load_all
from bus.settings import ConsumerSettings
from bus.slip import RETRIABLE, StepDeclaration, build_slip
from kit.db import open_database
from kit.redis_connection import RedisMode, RedisSettings, masked_url, redis_client
from tools.bus_scaling import paper_model
from tools.redis_cluster import ClusterStartError, LocalRedisCluster, running_cluster

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
BATCH = 100
HOPS = int(os.environ.get("BUS_BENCH_HOPS", "20000"))
STEPS_PER_SAGA = 4  # a realistic saga: a few steps, so the slip stays small
LATENCY_RATE = 1000  # hops per second for the latency run
LATENCY_SECONDS = 3.0
CLUSTER_MASTERS = 3
# The rows' labels, which tools.bench's regexes read back.
ONE_REDIS, CLUSTER = "one Redis", f"cluster of {CLUSTER_MASTERS}"

# CPU seconds the Redis server(s) of a run have used so far.
ServerCpu = Callable[[], Awaitable[float]]


@dataclass(frozen=True)
class BusRun:
    """One throughput run: hops, wall time, and the CPU this process and Redis spent on them."""

    hops: int
    seconds: float
    cpu_seconds: float
    redis_cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.hops / self.seconds

    @property
    def cpu_ms_per_1000(self) -> float:
        return self.cpu_seconds * 1_000_000 / self.hops

    @property
    def redis_cpu_ms_per_1000(self) -> float:
        return self.redis_cpu_seconds * 1_000_000 / self.hops


def bench_slip(saga_id: str, hops: int) -> pb.RoutingSlip:
    """A saga of `hops` no-op steps, all run by the one participant under test."""
    steps = [StepDeclaration(f"bench.step{n}", "bench", RETRIABLE) for n in range(hops)]
    return build_slip(
        saga_id=saga_id, session_id=f"s-{saga_id}", kind=pb.SAGA_KIND_CONFIRM,
        steps=steps, now=datetime.now(UTC),
    )  # fmt: skip


async def _noop(context: StepContext) -> Mapping[str, str] | None:
    return None


async def seed(redis: Redis, keys: BusKeys, sagas: int, hops_each: int) -> None:
    """Start sagas through the outbox (a scratch SQLite file) and its relay, as a service would."""
    with tempfile.TemporaryDirectory() as folder:
        database = await open_database(f"sqlite:///{folder}/outbox.sqlite3", None, "bench", outbox_metadata)
        slips = [bench_slip(f"g{n}", hops_each) for n in range(sagas)]
        await database.transaction(lambda conn: add_many(conn, slips))
        relay = OutboxRelay(database, redis, keys, batch_size=500)
        while await relay.relay_once():
            pass
        await database.close()


def _used_cpu(info: Mapping[str, object]) -> float:
    return float(str(info["used_cpu_sys"])) + float(str(info["used_cpu_user"]))


def redis_cpu(redis: Redis) -> ServerCpu:
    """The one Redis's CPU (INFO cpu): other clients of a shared Redis count too."""

    async def read() -> float:
        return _used_cpu(await redis.info("cpu"))

    return read


def cluster_cpu(cluster: LocalRedisCluster) -> ServerCpu:
    """Every node's CPU, summed."""

    async def read() -> float:
        total = 0.0
        for node in cluster.live_nodes():
            with node.admin() as admin:
                total += _used_cpu(admin.info("cpu"))
        return total

    return read


async def bus_throughput(redis: Redis, keys: BusKeys, hops: int, server_cpu: ServerCpu) -> BusRun:
    """Sagas seeded through the outbox first, then one Participant runs all their steps, timed."""
    hops_each = STEPS_PER_SAGA
    sagas = hops // hops_each
    # Sessions s-g0, s-g1, ... hash to every partition; the groups are made from id 0 when the
    # participant starts, so the entries seeded before are all read.
    await seed(redis, keys, sagas, hops_each)
    handlers = {f"bench.step{n}": _noop for n in range(hops_each)}
    settings = ConsumerSettings(batch_size=BATCH, block_ms=50, trim_interval_s=3600)
    participant = Participant(
        redis, namespace=keys.namespace, participant="bench", consumer="b1",
        handlers=handlers, settings=settings, partitions=keys.partitions,
    )  # fmt: skip
    redis_before = await server_cpu()
    cpu_before = time.process_time()
    start = time.perf_counter()
    task = asyncio.create_task(participant.run())
    total = sagas * hops_each
    while participant.processed < total:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_before
    redis_spent = await server_cpu() - redis_before
    participant.stop()
    await task
    return BusRun(total, elapsed, cpu, redis_spent)


async def raw_throughput(redis: Redis, keys: BusKeys, hops: int) -> float:
    """The same read / forward / ack loop with no bus logic: same batch, same one pipeline."""
    stream = keys.stream(0, "raw")
    await redis.xgroup_create(stream, "raw", id="0", mkstream=True)
    fields = entry_fields(bench_slip("raw", 3), time.time())
    payload = dict(zip(fields[::2], fields[1::2], strict=True))
    pipe = redis.pipeline(transaction=False)
    for _ in range(BATCH * 2):
        pipe.xadd(stream, payload)  # type: ignore[arg-type]
    await pipe.execute()
    done = 0
    start = time.perf_counter()
    while done < hops:
        reply = await redis.xreadgroup("raw", "r1", {stream: ">"}, count=BATCH, block=50)
        entries = parse_read_reply(reply)
        pipe = redis.pipeline(transaction=False)
        for _, entry in entries:
            pipe.xadd(stream, entry)  # type: ignore[arg-type]
        if entries:
            pipe.xack(stream, "raw", *[entry_id for entry_id, _ in entries])
        await pipe.execute()
        done += len(entries)
    return done / (time.perf_counter() - start)


def publish_at_rate(redis_url: str, namespace: str, partitions: int, sagas: int, interval: float) -> None:
    """Start one saga every `interval` seconds (a subprocess's entry point)."""

    async def publish() -> None:
        redis = redis_client(RedisSettings.checked(redis_url), decode_responses=True)
        keys = BusKeys(namespace, partitions)
        await load_all(redis)
        begin = time.perf_counter()
        for n in range(sagas):
            delay = begin + n * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            script_keys, args = publish_call(keys, bench_slip(f"lat{n}", 2), time.time())
            await PUBLISH_SCRIPT.call(redis, script_keys, args)
        await redis.aclose()

    asyncio.run(publish())


async def hop_latency(redis: Redis, keys: BusKeys) -> list[float]:
    """Milliseconds from the XADD of one step to the start of the next step's handler."""
    samples: list[float] = []

    async def timed(context: StepContext) -> Mapping[str, str] | None:
        samples.append((time.time() - context.published_at) * 1000)
        return None

    hops_each = 2
    sagas = int(LATENCY_RATE * LATENCY_SECONDS / hops_each)
    settings = ConsumerSettings(batch_size=BATCH, block_ms=50, trim_interval_s=3600)
    participant = Participant(
        redis, namespace=keys.namespace, participant="bench", consumer="lat",
        handlers={f"bench.step{n}": timed for n in range(hops_each)}, settings=settings,
        partitions=keys.partitions,
    )  # fmt: skip
    task = asyncio.create_task(participant.run())
    await load_all(redis)
    # The publisher is another service: it runs in its own process, not on the consumer's loop.
    publisher = multiprocessing.get_context("spawn").Process(
        target=publish_at_rate,
        args=(REDIS_URL, keys.namespace, keys.partitions, sagas, hops_each / LATENCY_RATE),
    )
    publisher.start()
    await asyncio.to_thread(publisher.join)
    deadline = time.perf_counter() + 5
    while len(samples) < sagas * hops_each and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    participant.stop()
    await task
    return samples


def percentiles(samples: list[float]) -> tuple[float, float, int]:
    """p50 and p99 of latency samples, and how many there were."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], len(ordered)


def partition_row(where: str, partitions: int, run: BusRun, baseline: BusRun, note: str = "") -> str:
    """One row: hops/s, its ratio to P=1 on one Redis, and CPU per 1,000 hops here and in Redis."""
    label = f"bus P={partitions}, {where}"
    return (
        f"{label:<23}: {run.rate:10.0f} hops/s, x{run.rate / baseline.rate:.2f} of P=1 on one Redis; "
        f"CPU per 1,000 hops: this process {run.cpu_ms_per_1000:.0f} ms "
        f"({run.cpu_seconds / run.seconds:.0%} of a core), Redis {run.redis_cpu_ms_per_1000:.0f} ms{note}"
    )


async def cluster_rows(namespace: str, baseline: BusRun) -> None:
    """The same runs on a Redis Cluster started here, or a line saying why there is none."""
    with ExitStack() as stack:
        try:
            cluster = stack.enter_context(running_cluster(masters=CLUSTER_MASTERS))
        except (ClusterStartError, OSError, subprocess.SubprocessError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            print(f"cluster rows skipped   : no Redis Cluster could be started ({reason})")
            return
        settings = RedisSettings.checked(cluster.url, mode=RedisMode.CLUSTER)
        redis = redis_client(settings, decode_responses=True)
        try:
            await load_all(redis)
            for partitions in (1, DEFAULT_PARTITIONS):
                keys = BusKeys(f"{namespace}-c{partitions}", partitions)
                run = await bus_throughput(redis, keys, HOPS, cluster_cpu(cluster))
                masters = {cluster.master_of(keys.stream(p, "bench")).port for p in keys.all_partitions()}
                note = f"; partitions on {len(masters)} of {CLUSTER_MASTERS} masters"
                print(partition_row(CLUSTER, partitions, run, baseline, note), flush=True)
        finally:
            await redis.aclose()


async def main() -> None:
    namespace = f"bench-{uuid.uuid4().hex[:10]}"
    keys = BusKeys(namespace)
    redis = redis_client(RedisSettings.checked(REDIS_URL), decode_responses=True)
    try:
        await load_all(redis)
        version = (await redis.info("server"))["redis_version"]
        print(f"redis {version} at {masked_url(REDIS_URL)}, namespace {namespace}, batch {BATCH}")
        raw = raw_throughput(redis, keys, HOPS)
        raw_rate = await raw
        print(f"raw redis-py loop      : {raw_rate:10.0f} hops/s (XREADGROUP, pipelined XADD+XACK)")
        bus_rate = (await bus_throughput(redis, keys, HOPS, redis_cpu(redis))).rate
        print(f"bus, all guarantees on : {bus_rate:10.0f} hops/s (dedupe, history, atomic commit)")
        ratio = bus_rate / raw_rate
        print(f"ratio bus / raw        : {ratio:10.2f} (target >= 0.50) {'OK' if ratio >= 0.5 else 'MISSED'}")
        p50, p99, count = percentiles(await hop_latency(redis, keys))
        print(
            f"hop latency @ {LATENCY_RATE}/s    : p50 {p50:.2f} ms, p99 {p99:.2f} ms over "
            f"{count} hops, P={keys.partitions} (target p99 < 5 ms) {'OK' if p99 < 5 else 'MISSED'}",
            flush=True,
        )
        # One loop per partition batches less at the same rate: the price, measured beside it.
        p50, p99, count = percentiles(await hop_latency(redis, BusKeys(f"{namespace}-latency-p1", 1)))
        print(f"hop latency, P=1       : p50 {p50:.2f} ms, p99 {p99:.2f} ms over {count} hops", flush=True)
        print(f"partitions: {HOPS} hops each, {STEPS_PER_SAGA}-step sagas over as many sessions")
        runs: dict[int, BusRun] = {}
        for partitions in (1, DEFAULT_PARTITIONS):
            partitioned = BusKeys(f"{namespace}-p{partitions}", partitions)
            runs[partitions] = await bus_throughput(redis, partitioned, HOPS, redis_cpu(redis))
            print(partition_row(ONE_REDIS, partitions, runs[partitions], runs[1]), flush=True)
        await cluster_rows(namespace, runs[1])
        default = runs[DEFAULT_PARTITIONS]
        print(f"on paper, from P={DEFAULT_PARTITIONS} on one Redis:")
        model = paper_model(
            default.rate, default.redis_cpu_ms_per_1000, default.cpu_ms_per_1000, DEFAULT_PARTITIONS
        )
        for line in model:
            print(f"  {line}")
    finally:
        # Every run's namespace starts with this one's name.
        found = [key async for key in redis.scan_iter(match=f"{namespace}*", count=1000)]
        for n in range(0, len(found), 500):
            await redis.delete(*found[n : n + 500])
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
