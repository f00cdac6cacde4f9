"""Connectors: one module per vendor, no imports from the rest of Taskyard."""
