"""Thin HTTP handlers of the providers (Starlette), the chaos middleware and the error mapping."""
