"""Free loopback ports for tests: the operations allocator, each port handed out once per run."""

from tools.free_ports import free_port

__all__ = ["free_port"]
