"""Activity implementations: everything with I/O that a workflow needs."""
