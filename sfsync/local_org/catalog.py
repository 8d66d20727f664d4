"""Object and field descriptions of the local org (what describe() would say).

The SOQL compiler and the REST layer both work from these; the store builds its tables from them.
A Catalog is never mutated once published: a deploy builds a new one and swaps it in, so a
request that started with the old schema finishes with it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

logger = logging.getLogger(__name__)

# describe() types the local org knows.
FIELD_TYPES = frozenset(
    {
        "id", "string", "textarea", "email", "phone", "url", "picklist", "boolean",
        "int", "double", "currency", "percent", "date", "datetime", "reference",
    }
)
TEXT_TYPES = frozenset({"id", "string", "textarea", "email", "phone", "url", "picklist", "reference"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})


@dataclass(frozen=True)
class FieldDef:
    api_name: str
    type: str
    column: str
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    label: str = ""
    length: int | None = None
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    required_on_create: bool = False
    picklist_values: tuple[str, ...] = ()
    restricted: bool = False
    default: Any = None
    # Beyond the contract (additive): what deploy and writes also need.
    unique: bool = False
    external_id: bool = False
    cascade_delete: bool = False  # MasterDetail: deleting the master deletes the detail
    child_relationship_name: str | None = None  # parent-to-child name (<relationshipName>__r for custom)
    precision: int | None = None
    scale: int | None = None
    picklist_labels: tuple[str, ...] = ()  # master labels, parallel to picklist_values (describe)

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r} for {self.api_name}")

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    def to_json(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["reference_to"] = list(self.reference_to)
        data["picklist_values"] = list(self.picklist_values)
        data["picklist_labels"] = list(self.picklist_labels)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "FieldDef":
        data = dict(data)
        data["reference_to"] = tuple(data.get("reference_to") or ())
        data["picklist_values"] = tuple(data.get("picklist_values") or ())
        data["picklist_labels"] = tuple(data.get("picklist_labels") or ())
        return cls(**data)


@dataclass(frozen=True)
class ObjectDef:
    api_name: str
    label: str
    table: str
    key_prefix: str
    custom: bool
    fields: dict[str, FieldDef] = field(default_factory=dict)  # lower-case api name -> FieldDef
    label_plural: str = ""
    # Custom objects whose Name is an auto-number are not modelled; Name is always text.

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        wanted = name.lower()
        for fdef in self.fields.values():
            if fdef.relationship_name and fdef.relationship_name.lower() == wanted:
                return fdef
        return None

    def with_fields(self, fields: Iterable[FieldDef]) -> "ObjectDef":
        merged = dict(self.fields)
        for fdef in fields:
            merged[fdef.api_name.lower()] = fdef
        return replace(self, fields=merged)

    def to_json(self) -> dict:
        return {
            "api_name": self.api_name,
            "label": self.label,
            "label_plural": self.label_plural,
            "table": self.table,
            "key_prefix": self.key_prefix,
            "custom": self.custom,
            "fields": [f.to_json() for f in self.fields.values()],
        }

    @classmethod
    def from_json(cls, data: dict) -> "ObjectDef":
        fields = [FieldDef.from_json(f) for f in data["fields"]]
        return cls(
            api_name=data["api_name"],
            label=data["label"],
            label_plural=data.get("label_plural", ""),
            table=data["table"],
            key_prefix=data["key_prefix"],
            custom=data["custom"],
            fields={f.api_name.lower(): f for f in fields},
        )


class Catalog:
    """All objects of the org, looked up case-insensitively by API name or key prefix."""

    def __init__(self, objects: Iterable[ObjectDef] = ()):
        self._objects: dict[str, ObjectDef] = {}
        for obj in objects:
            self._objects[obj.api_name.lower()] = obj

    def get(self, name: str) -> ObjectDef | None:
        return self._objects.get(name.lower())

    def objects(self) -> list[ObjectDef]:
        return list(self._objects.values())

    def by_key_prefix(self, prefix: str) -> ObjectDef | None:
        for obj in self._objects.values():
            if obj.key_prefix == prefix:
                return obj
        return None

    def with_objects(self, objects: Iterable[ObjectDef]) -> "Catalog":
        """A new catalog with ``objects`` added or replaced."""
        new = Catalog(self._objects.values())
        for obj in objects:
            new._objects[obj.api_name.lower()] = obj
        return new

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._objects

    def __iter__(self):
        return iter(self._objects.values())

    def __len__(self) -> int:
        return len(self._objects)
