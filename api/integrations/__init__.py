"""App integrations (seed 003): ``/v1/{appId}/integrations…``."""
