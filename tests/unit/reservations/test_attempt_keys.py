"""Reserve attempts keep their Redis key names, in the partition of the session they belong to."""

from __future__ import annotations

from bus.keys import BusKeys
from services.reservations.attempts_redis import attempt_index_key, attempts_key


def test_attempt_keys_are_in_the_session_partition_slot() -> None:
    keys = BusKeys("ns1", partitions=4)
    session = "6f1c0a52-0d3e-4a0e-9a53-3c1b2b7e9e10"
    partition = keys.partition_of(session)
    assert attempts_key(keys, session) == f"ns1:{{p{partition}}}:session:{session}:reserving"
    assert attempt_index_key(keys, partition) == f"ns1:{{p{partition}}}:reserving"
