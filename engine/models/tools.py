"""Tool executions and credential tests: one connector call as a job."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

TOOL_WORKFLOW = "ToolExecutionWorkflow"
CREDENTIAL_TEST_WORKFLOW = "CredentialTestWorkflow"
RUN_TOOL_ACTION = "run_tool_action"
TEST_CREDENTIAL = "test_credential"


class ToolExecutionInput(BaseModel):
    user_id: str
    tool_name: str
    params: dict[str, Any] = Field(default_factory=dict)
    sealed_secret_id: str | None = None
    credential_id: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    timeout_seconds: float = 60.0
    heartbeat_timeout_seconds: float = 10.0
    max_attempts: int = 3


class ToolExecutionOutput(BaseModel):
    successful: bool
    data: Any = None
    error: str | None = None
    error_type: str | None = None


class RunToolInput(BaseModel):
    """Carries ids, never secrets: sealed material is loaded inside the activity."""

    user_id: str
    tool_name: str
    params: dict[str, Any] = Field(default_factory=dict)
    sealed_secret_id: str | None = None
    credential_id: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class CredentialTestInput(BaseModel):
    user_id: str
    credential_id: str
    provider: str
    timeout_seconds: float = 60.0
    heartbeat_timeout_seconds: float = 10.0


class CredentialTestOutput(BaseModel):
    successful: bool
    data: Any = None


class TestCredentialInput(BaseModel):
    """Ids only; the credential is opened inside the activity."""

    __test__ = False  # not a pytest test class

    user_id: str
    credential_id: str
    provider: str
