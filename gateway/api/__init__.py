"""The JSON API under /api/v1, one Blueprint per area."""
