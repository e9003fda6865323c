"""Memory, timing and latency history: chart queries, rollups, retention and CSV export."""
