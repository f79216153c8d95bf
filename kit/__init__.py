"""The service kit: what every process of the system shares (config, DB, gRPC server, auth, errors)."""
