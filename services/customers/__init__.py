"""The customers service: registration, argon2id credentials and JWT access tokens."""
