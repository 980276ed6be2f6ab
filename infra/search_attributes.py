"""Registering the trajectory's search attributes (`workflows.search_attributes`) with a
Temporal namespace.

A workflow that sets an attribute the namespace does not know fails its workflow task,
again and again: every case would stand still. So the worker makes sure of them before it
takes work (`missing_search_attributes`, then `register_search_attributes`), and stops
with a line saying what to run where it may not register them itself (Temporal Cloud,
a cluster run by others).
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType

from workflows.search_attributes import SEARCH_ATTRIBUTES, dev_server_flags

_INDEXED = {SearchAttributeIndexedValueType.KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
            SearchAttributeIndexedValueType.INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
            SearchAttributeIndexedValueType.BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL}


async def missing_search_attributes(client: Client, namespace: str
                                    ) -> dict[str, IndexedValueType.ValueType]:
    """The attributes Regie sets that the namespace lacks: name -> type."""
    known = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace))
    return {name: kind for name, kind in all_search_attributes().items()
            if name not in known.custom_attributes}


def all_search_attributes() -> dict[str, IndexedValueType.ValueType]:
    return {key.name: _INDEXED[key.indexed_value_type] for key in SEARCH_ATTRIBUTES}


async def add_search_attributes(client: Client, namespace: str,
                                attributes: dict[str, IndexedValueType.ValueType]) -> None:
    # The time-skipping test server has this call but not the listing.
    await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=namespace, search_attributes=attributes))


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add the missing ones (a self-run cluster); the names added."""
    missing = await missing_search_attributes(client, namespace)
    if missing:
        await add_search_attributes(client, namespace, missing)
    return sorted(missing)


def how_to_register(namespace: str) -> str:
    """The command an operator runs where Regie may not register them itself."""
    pairs = dev_server_flags()[1::2]
    commands = "; ".join(
        f"temporal operator search-attribute create --namespace {namespace} "
        f"--name {pair.split('=')[0]} --type {pair.split('=')[1]}" for pair in pairs)
    return f"register Regie's search attributes in namespace {namespace}: {commands}"
