"""WeChat subscribe messages: at most once per idempotency key, declines remembered."""
