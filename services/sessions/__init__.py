"""The sessions service: the arbiter, sole writer of purchase-session state."""
