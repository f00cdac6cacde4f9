"""Running Taskyard: the embedded dev stack and deployment helpers."""
