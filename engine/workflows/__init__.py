"""Workflow code: deterministic, sandboxed, no I/O.

Only ``temporalio.workflow`` APIs for time, randomness, waiting and side effects; activities
are referenced by name through the Temporal API, never imported. Changes to what a running
workflow does go behind ``workflow.patched`` and are checked by replaying the recorded
histories in ``tests/histories``.
"""
