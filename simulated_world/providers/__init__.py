"""Simulated external providers: hotel, flight and payment HTTP APIs that fail on purpose."""
