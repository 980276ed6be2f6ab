"""Marking personal data in events, so the store can encrypt it per person.

A field typed `PersonalStr` / `PersonalDate` holds data about a person (a name, a birth
date, free text about someone). The model that holds such fields names, in the class
variable `personal_subject_field`, which of its fields holds that person's id: the store
encrypts the values with that person's key. Erasing the person destroys the key; the
values then read back as `Erased()` while the event, its order and its other data remain.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict


class PersonalMarker:
    """Annotation marker; compare by identity with `PERSONAL`."""

    def __repr__(self) -> str:
        return "PERSONAL"


PERSONAL = PersonalMarker()


class Erased(BaseModel):
    """What a personal field reads as after its subject was erased (crypto-shredded)."""

    model_config = ConfigDict(frozen=True)
    erased: Literal[True] = True


PersonalStr = Annotated[str | Erased, PERSONAL]
PersonalDate = Annotated[date | Erased, PERSONAL]


class HasPersonalData(BaseModel):
    """Base for models that carry personal fields about exactly one subject."""

    personal_subject_field: ClassVar[str] = "person_id"


def _is_personal(metadata: list[Any]) -> bool:
    return any(m is PERSONAL for m in metadata)


def _model_types_in(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    # Covers X | Y, Optional, list[X], dict[K, V] and Annotated[X, ...] alike.
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found.extend(_model_types_in(arg))
    return found


@cache
def may_hold_personal_data(model: type[BaseModel]) -> bool:
    """Whether instances of `model` can hold personal fields anywhere inside them.

    Cached per class: the store asks this for every event it writes, and the answer
    only depends on the class, so events without personal data skip the tree walk.
    """
    for field in model.model_fields.values():
        if _is_personal(field.metadata):
            return True
        for inner in _model_types_in(field.annotation):
            if inner is not model and may_hold_personal_data(inner):
                return True
    return False


JsonPath = tuple[str | int, ...]


def personal_values(model: BaseModel, path: JsonPath = ()) -> list[tuple[JsonPath, str]]:
    """Every personal field inside `model`, as (json path, subject id)."""
    found: list[tuple[JsonPath, str]] = []
    cls = type(model)
    if not may_hold_personal_data(cls):
        return found
    for name, field in cls.model_fields.items():
        value = getattr(model, name)
        if _is_personal(field.metadata):
            subject_field = getattr(cls, "personal_subject_field", None)
            if subject_field is None:
                raise TypeError(
                    f"{cls.__name__}.{name} is personal, but {cls.__name__} does not "
                    "derive from HasPersonalData to say whose data it is"
                )
            if not isinstance(value, Erased):
                found.append(((*path, name), str(getattr(model, subject_field))))
            continue
        found.extend(_walk(value, (*path, name)))
    return found


def _walk(value: Any, path: JsonPath) -> list[tuple[JsonPath, str]]:
    if isinstance(value, BaseModel):
        return personal_values(value, path)
    if isinstance(value, list | tuple):
        out: list[tuple[JsonPath, str]] = []
        for i, item in enumerate(value):
            out.extend(_walk(item, (*path, i)))
        return out
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out.extend(_walk(item, (*path, str(key))))
        return out
    return []
