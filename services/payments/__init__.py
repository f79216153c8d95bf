"""The payments service: payments at the provider, provider events into saga starts, refunds."""
