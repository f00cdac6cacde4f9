"""App integrations: ``/v1/{appId}/integrations…``."""
