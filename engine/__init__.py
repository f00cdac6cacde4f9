"""Taskyard's Temporal side, in three rooms with different rules:

``engine.models``     shared types (no I/O), imported by every layer;
``engine.workflows``  sandboxed, deterministic workflow code;
``engine.services``   the client side the API calls (Temporal client and store).
"""
