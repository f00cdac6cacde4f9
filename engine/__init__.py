"""Temporal workflows, the job model, and the client helpers the API uses."""
