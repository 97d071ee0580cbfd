"""Outbound webhooks: every change a brand's systems subscribe to, recorded with the change and delivered signed."""
