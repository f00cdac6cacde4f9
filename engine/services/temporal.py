"""Connecting to Temporal: one place that knows address, namespace, TLS and API key."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, TLSConfig
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from engine.models.jobs import SEARCH_ATTRIBUTES
from engine.services import telemetry
from engine.services.codec import taskyard_converter
from settings import Settings


def data_converter(settings: Settings) -> DataConverter:
    """The converter every Taskyard client and worker of a namespace uses: pydantic payloads,
    encrypted with the master-key ring unless ``payload_encryption`` is off (then written
    plain, while encrypted ones still read)."""
    return taskyard_converter(settings.master_key_ring(), encrypt=settings.payload_encryption)


async def connect(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """A client with Taskyard's data converter (``data_converter``), as every process uses.

    ``lazy`` connects on first use, so the API can start (and report itself degraded)
    while Temporal is unreachable. With tracing on, the client carries the tracing
    interceptor (and so do workers built on it); ``runtime`` is a worker's runtime with
    SDK metrics (``telemetry.sdk_metrics_runtime``).
    """
    tls: TLSConfig | bool = False
    if settings.temporal_tls or settings.temporal_api_key is not None:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes()
            if settings.temporal_tls_cert
            else None,
            client_private_key=settings.temporal_tls_key.read_bytes()
            if settings.temporal_tls_key
            else None,
            server_root_ca_cert=settings.temporal_tls_ca.read_bytes()
            if settings.temporal_tls_ca
            else None,
        )
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls,
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        data_converter=data_converter(settings),
        lazy=lazy,
        interceptors=telemetry.client_interceptors(),
        runtime=runtime,
    )


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register Taskyard's custom search attributes if missing; returns the names added."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in SEARCH_ATTRIBUTES
        if key.name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)
