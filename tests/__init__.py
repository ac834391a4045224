"""Cross-service integration, end-to-end and browser tests (real processes)."""
