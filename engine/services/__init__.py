"""The client side: what the API and schedules call to start, read, list and cancel jobs,
and to keep the records around them (webhooks, deliveries, executions, connections).
Services use the Temporal client and ``store``; they never run workflow code."""
