"""The realtime contract: typed events, one publisher, and the WebSocket consumers."""
