"""The Starlette API: auth, permissions, errors, rate limits, one module per resource."""
