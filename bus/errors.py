"""Error types a step handler raises to steer the bus, and the bus's own errors."""

from __future__ import annotations


class StepError(Exception):
    """Base of the errors a step handler raises on purpose."""


class BusinessRefusal(StepError):
    """The step was refused for a business reason: never retried, the saga compensates."""


class TransientFailure(StepError):
    """The step failed for a passing reason (timeout, 5xx): retried with backoff."""


class InvalidSlip(ValueError):
    """A routing slip or its step declarations break the saga rules."""


class UndecodableEntry(ValueError):
    """A stream entry does not carry a readable routing slip."""
