"""The operator console, served by the sessions process: what is running, what is stuck, replay."""
