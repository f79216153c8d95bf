"""`python -m tools.grpc_io_cost`: a unary gRPC call on each socket path, in CPU and thread hand-offs.

Each path runs in a process of its own, since gRPC reads GRPC_EXPERIMENTS once, when first
imported: a grpc.aio server and its client in one process on uvloop, calls one at a time, then
the process's CPU per call (client and server) and its threads' voluntary context switches per
call, each a thread that went to sleep waiting for another. kit/grpc_io.py says which path the
processes run and why.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.grpc_io import GRPC_EXPERIMENTS, IOMGR_SOCKETS

WARM_UP = 100
# Empty: gRPC's own defaults, the EventEngine client and listener.
PATHS = {"EventEngine (gRPC's default)": "", "iomgr (the processes' setting)": IOMGR_SOCKETS}


@dataclass(frozen=True)
class CallCost:
    """What one unary call cost a process serving and calling it: CPU and threads put to sleep."""

    cpu_us: float
    switches: float
    logged: str = ""  # what gRPC wrote to stderr, e.g. an experiment it does not know


def voluntary_switches() -> int:
    """Every thread of this process: how many times each went to sleep of its own accord."""
    total = 0
    for status in Path("/proc/self/task").glob("*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:  # the thread ended meanwhile
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("voluntary_ctxt_switches"))
    return total


async def _calls(count: int) -> CallCost:
    # Imported here: only a child starts gRPC, with the experiments its parent put in its environment.
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            # The health stub's methods are set in its __init__, where its type stubs do not look.
            stub: Any = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest()
            for _ in range(WARM_UP):
                await stub.Check(request)
            switches, cpu = voluntary_switches(), time.process_time()
            for _ in range(count):
                await stub.Check(request)
            cpu, switches = time.process_time() - cpu, voluntary_switches() - switches
    finally:
        await server.stop(0)
    return CallCost(cpu * 1e6 / count, switches / count)


def measure(experiments: str, count: int) -> CallCost:
    """The cost of `count` calls in a new process whose gRPC starts with `experiments`."""
    env = {**os.environ, GRPC_EXPERIMENTS: experiments}
    command = [sys.executable, "-m", "tools.grpc_io_cost", "--child", "--calls", str(count)]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return CallCost(figures["cpu_us"], figures["switches"], done.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.grpc_io_cost", description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each path, alternated")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import uvloop

        cost = uvloop.run(_calls(args.calls))
        print(json.dumps({"cpu_us": cost.cpu_us, "switches": cost.switches}))
        return 0
    runs: dict[str, list[CallCost]] = {name: [] for name in PATHS}
    for _ in range(args.rounds):
        for name, experiments in PATHS.items():
            runs[name].append(measure(experiments, args.calls))
    print(
        f"unary gRPC call, client and server in one process, {args.calls} calls a run, best of {args.rounds}"
    )
    for name, costs in runs.items():
        best = min(costs, key=lambda cost: cost.cpu_us)
        print(
            f"{name:<32} {best.cpu_us:6.0f} µs CPU a call, "
            f"{min(c.switches for c in costs):4.1f} voluntary context switches a call"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
