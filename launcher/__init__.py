"""The launcher: every process of the system from one process list (the Procfile), on one machine."""
