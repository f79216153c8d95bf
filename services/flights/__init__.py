"""The flights service: flight search, round-trip pre-reservations and the flight saga steps."""
