"""The expiry worker: expires sessions whose deadline passed, claiming them from a Redis sorted set."""
