"""The flights service: catalog search and round-trip pre-reservations at the flight provider; flight saga steps."""
