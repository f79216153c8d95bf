"""Every Redis key name the bus uses, under one namespace, partitioned by session for Redis Cluster."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

# The same on one Redis and on a cluster, so moving to a cluster needs no migration; a cluster
# spreads partitions over its masters, so P bounds how many masters the bus can use.
DEFAULT_PARTITIONS = 8
MAX_PARTITIONS = 1024


# Every hop names several keys: one regex search costs half a scan per forbidden character.
_FORBIDDEN = re.compile(r"[{}: \n]")


def _checked(part: str, what: str) -> str:
    if not part or _FORBIDDEN.search(part):
        raise ValueError(f"{what} {part!r} must be non-empty without braces, colons or spaces")
    return part


def partition_of(session_id: str, partitions: int) -> int:
    """The partition of a session and of every saga it starts: stable across processes and restarts."""
    return zlib.crc32(session_id.encode()) % partitions


def entry_name(partition: int, entry_id: str) -> str:
    """How the tooling names an entry of one partition's stream (a dead letter, a stuck entry):
    `p<partition>-<entry id>`, so the name alone says where it lives."""
    return f"p{partition}-{entry_id}"


@dataclass(frozen=True)
class BusKeys:
    """Key names. Every key one saga hop touches carries the hash tag of its partition, `{pN}`,
    so a hop's script runs in one Redis Cluster slot; the namespace is a plain prefix so tests and
    deployments never collide on one Redis.
    """

    namespace: str
    partitions: int = DEFAULT_PARTITIONS

    def __post_init__(self) -> None:
        _checked(self.namespace, "namespace")
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ValueError(f"partitions must be 1..{MAX_PARTITIONS}, not {self.partitions}")

    def partition_of(self, session_id: str) -> int:
        return partition_of(session_id, self.partitions)

    def all_partitions(self) -> range:
        return range(self.partitions)

    def _tag(self, partition: int) -> str:
        if not 0 <= partition < self.partitions:
            raise ValueError(f"partition {partition} is outside 0..{self.partitions - 1}")
        return f"{self.namespace}:{{p{partition}}}"

    def every_partition(self, key: str) -> str:
        """A key of partition 0 as a SCAN pattern matching it in every partition (`{p*}`)."""
        return key.replace(self._tag(0), f"{self.namespace}:{{p*}}", 1)

    def stream(self, partition: int, participant: str) -> str:
        """Input stream of a participant service for one partition."""
        return f"{self._tag(partition)}:stream:{_checked(participant, 'participant')}"

    def delayed(self, partition: int, participant: str) -> str:
        """Sorted set of retries due later (score = due time, ms); same slot as the stream."""
        return f"{self._tag(partition)}:delayed:{_checked(participant, 'participant')}"

    def dead_letters(self, partition: int) -> str:
        """The partition's dead letters; the tooling reads every partition's as one list."""
        return f"{self._tag(partition)}:dead-letters"

    def operator_actions(self, partition: int) -> str:
        """The partition's record of what operators did to its dead letters (replays, discards), in
        the letters' slot so a replay or a discard and its record are one script."""
        return f"{self._tag(partition)}:operator-actions"

    def participants(self) -> str:
        """Set of participants that ever started a consumer, for lag reports."""
        return f"{self.namespace}:participants"

    def saga_steps(self, partition: int, saga_id: str) -> str:
        """Hash of step markers: which steps of the saga were applied or published."""
        return f"{self._tag(partition)}:saga:{_checked(saga_id, 'saga id')}:steps"

    def saga_history(self, partition: int, saga_id: str) -> str:
        """Stream of the saga's step outcomes, oldest first."""
        return f"{self._tag(partition)}:saga:{_checked(saga_id, 'saga id')}:history"

    def session_sagas(self, session_id: str) -> str:
        """Sorted set of a session's saga ids, scored by start time (ms), in the session's partition."""
        partition = self.partition_of(_checked(session_id, "session id"))
        return f"{self._tag(partition)}:session:{session_id}:sagas"

    def partition_key(self, partition: int, name: str) -> str:
        """A participant's own key in the partition's slot, for a script that changes it together
        with other keys of the partition."""
        return f"{self._tag(partition)}:{_checked(name, 'key name')}"

    def session_key(self, session_id: str, name: str) -> str:
        """A participant's own key about one session, in the session's partition (as its sagas)."""
        partition = self.partition_of(_checked(session_id, "session id"))
        return f"{self._tag(partition)}:session:{session_id}:{_checked(name, 'key name')}"

    def session_notices(self, session_id: str) -> str:
        """Counter of the notices published on the session's change channel, in its partition."""
        partition = self.partition_of(_checked(session_id, "session id"))
        return f"{self._tag(partition)}:session:{session_id}:notices"

    def session_changes(self, session_id: str) -> str:
        """Pub/sub channel told each time a session, or the history of one of its sagas, changes.

        A channel is no key: a cluster delivers it from any node, so it carries no partition.
        """
        return f"{self.namespace}:session:{{{_checked(session_id, 'session id')}}}:changes"

    def group(self, participant: str) -> str:
        """Consumer group name: one per participant service, shared by its replicas in every partition."""
        return _checked(participant, "participant")

    def pattern(self) -> str:
        """SCAN pattern matching every key of the namespace."""
        return f"{self.namespace}:*"
