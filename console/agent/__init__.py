"""The agent on a GPU host: registers it, heartbeats, samples memory, follows engine logs."""
