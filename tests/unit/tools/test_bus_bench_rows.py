"""The performance table (docs/performance.md) reads the partition rows the bus benchmark prints."""

from pathlib import Path

from bus.keys import DEFAULT_PARTITIONS
from tools.bench import BEGIN, END, PERFORMANCE_DOC, bus_figures_of, partitioned, write_table
from tools.bus_bench import CLUSTER, ONE_REDIS, BusRun, partition_row


def test_the_table_reads_hops_and_ratio_of_the_default_partitions_rows() -> None:
    baseline = BusRun(hops=20_000, seconds=10.0, cpu_seconds=8.0, redis_cpu_seconds=1.0)
    faster = BusRun(hops=20_000, seconds=8.0, cpu_seconds=7.0, redis_cpu_seconds=1.2)
    out = "\n".join(
        [
            partition_row(ONE_REDIS, 1, baseline, baseline),
            partition_row(ONE_REDIS, DEFAULT_PARTITIONS, faster, baseline),
            partition_row(CLUSTER, DEFAULT_PARTITIONS, baseline, baseline, "; partitions on 3 of 3 masters"),
        ]
    )
    assert partitioned(ONE_REDIS, out) == "2500 (x1.25)"
    assert partitioned(CLUSTER, out) == "2000 (x1.00)"


def test_a_missing_row_reads_as_not_available() -> None:
    assert partitioned(CLUSTER, "cluster rows skipped   : no Redis Cluster could be started") == "n/a"


def test_cpu_per_1000_hops_is_the_process_cpu_over_the_hops() -> None:
    run = BusRun(hops=20_000, seconds=10.0, cpu_seconds=8.0, redis_cpu_seconds=1.0)
    assert run.cpu_ms_per_1000 == 400
    assert run.redis_cpu_ms_per_1000 == 50


def test_the_table_reads_the_latency_of_the_default_partitions_and_of_one() -> None:
    out = "\n".join(
        [
            f"hop latency @ 1000/s    : p50 7.53 ms, p99 26.79 ms over 3000 hops, P={DEFAULT_PARTITIONS} "
            "(target p99 < 5 ms) MISSED",
            "hop latency, P=1       : p50 2.59 ms, p99 8.87 ms over 3000 hops",
        ]
    )
    values = {figure.what: figure.value for figure in bus_figures_of(out)}
    assert values[f"bus hop latency p99 at 1,000 hops/s, P={DEFAULT_PARTITIONS}"] == "26.79 ms"
    assert values["bus hop latency p99 at 1,000 hops/s, P=1 (same run)"] == "8.87 ms"


def test_the_table_is_written_between_the_markers_of_the_performance_doc(tmp_path: Path) -> None:
    shown = PERFORMANCE_DOC.read_text()
    assert shown.count(BEGIN) == 1 and shown.count(END) == 1
    document = tmp_path / "performance.md"
    document.write_text(f"# Performance\n\nbefore\n\n{BEGIN}\nold table\n{END}\n\nafter\n")
    write_table("| figure |\n|---|", document)
    assert document.read_text() == f"# Performance\n\nbefore\n\n{BEGIN}\n| figure |\n|---|\n{END}\n\nafter\n"
