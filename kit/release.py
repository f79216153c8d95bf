"""The system's version, as pyproject.toml states it (a test keeps the two equal)."""

VERSION = "0.1.0"
