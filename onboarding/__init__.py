"""Bringing the brand's existing customers in (cold start): a streaming, resumable import of members with
their tiers, growth, opening points lots, VIP and tags."""
