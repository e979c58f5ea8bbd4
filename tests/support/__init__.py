"""Shared test helpers (a real redis-server, a wire-level comparison of replies)."""
