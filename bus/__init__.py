"""Saga bus: routing slips carried on Redis Streams, with retries, dead letters and an outbox."""
