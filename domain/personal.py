"""Marking personal data in events, so the store can encrypt it per person.

A field typed `PersonalStr` / `PersonalDate` holds data about a person (a name, a birth
date, free text about someone). The model that holds such fields names, in the class
variable `personal_subject_field`, which of its fields holds that person's id: the store
encrypts the values with that person's key. Erasing the person destroys the key; the
values then read back as `Erased()` while the event, its order and its other data remain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo


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


def _marked_personal(annotation: Any) -> bool:
    """Whether `annotation` itself is `Annotated[..., PERSONAL]`."""
    return get_origin(annotation) is Annotated and _is_personal(
        list(getattr(annotation, "__metadata__", ()))
    )


def _contains_marker(annotation: Any) -> bool:
    """Whether `Annotated[..., PERSONAL]` occurs anywhere inside `annotation`."""
    if _marked_personal(annotation):
        return True
    return get_origin(annotation) is not None and any(
        _contains_marker(arg) for arg in get_args(annotation)
    )


def _field_is_personal(model: type[BaseModel], name: str, field: FieldInfo) -> bool:
    """Whether the value of `field` as a whole is personal data.

    Pydantic moves the markers of a top-level `Annotated` into `field.metadata`; in an
    optional field (`PersonalStr | None`) the marker stays inside the union, so the
    annotation is inspected too. A marker anywhere else (`list[PersonalStr]`, ...) is
    refused rather than silently left in plaintext: the store seals whole field values.
    """
    if _is_personal(field.metadata):
        return True
    annotation = field.annotation
    if get_origin(annotation) in (Union, UnionType):
        members = get_args(annotation)
        if any(_marked_personal(m) for m in members) and all(
            _marked_personal(m) or m is NoneType for m in members
        ):
            return True
    if _contains_marker(annotation):
        raise TypeError(
            f"{model.__name__}.{name}: PERSONAL may only mark a whole field (optionally "
            "`| None`), not a part of its type; mark the field itself, e.g. "
            "`Annotated[tuple[str, ...] | Erased, PERSONAL]`"
        )
    return False


def _may_hold_anything(annotation: Any) -> bool:
    """Whether a value of this type can be an arbitrary object (and so any model)."""
    if annotation is Any or annotation is object or annotation is BaseModel:
        return True
    return get_origin(annotation) is not None and any(
        _may_hold_anything(arg) for arg in get_args(annotation)
    )


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
    for name, field in model.model_fields.items():
        if _field_is_personal(model, name, field):
            return True
        for inner in _model_types_in(field.annotation):
            if inner is not model and may_hold_personal_data(inner):
                return True
    return False


JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class _Plan:
    """What `personal_values` visits in instances of one class, in field order."""

    subject_field: str | None
    # (field name, True if its value is personal data as a whole / False if the value
    # may contain personal fields deeper down); fields that can hold neither are left out.
    fields: tuple[tuple[str, bool], ...]


@cache
def _plan(model: type[BaseModel]) -> _Plan:
    """Only the fields that can hold personal data: the others (ids, enums, plain text,
    dates) are never looked at, which is most of every event."""
    fields: list[tuple[str, bool]] = []
    for name, field in model.model_fields.items():
        if _field_is_personal(model, name, field):
            fields.append((name, True))
        elif _may_hold_anything(field.annotation) or any(
            inner is model or may_hold_personal_data(inner)
            for inner in _model_types_in(field.annotation)
        ):
            fields.append((name, False))
    subject_field: str | None = getattr(model, "personal_subject_field", None)
    personal = [name for name, is_personal in fields if is_personal]
    if personal and subject_field is None:
        raise TypeError(
            f"{model.__name__}.{personal[0]} is personal, but {model.__name__} does not "
            "derive from HasPersonalData to say whose data it is"
        )
    return _Plan(subject_field, tuple(fields))


def personal_values(model: BaseModel, path: JsonPath = ()) -> list[tuple[JsonPath, str]]:
    """Every personal field inside `model`, as (json path, subject id).

    A personal value that is `None` (an optional field left empty) or `Erased` is not
    listed: there is nothing to seal.
    """
    found: list[tuple[JsonPath, str]] = []
    cls = type(model)
    if not may_hold_personal_data(cls):
        return found
    plan = _plan(cls)
    for name, is_personal in plan.fields:
        value = getattr(model, name)
        if not is_personal:
            found.extend(_walk(value, (*path, name)))
        elif value is not None and not isinstance(value, Erased):
            # _plan refuses personal fields without a subject field.
            assert plan.subject_field is not None
            subject = getattr(model, plan.subject_field)
            if subject is None:
                # Recorded before this kind of text was sealed (no subject then): it
                # stays as it was written. New events always name their subject.
                continue
            found.append(((*path, name), str(subject)))
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


M = TypeVar("M", bound=BaseModel)


def without_personal_data_of(model: M, subjects: frozenset[str]) -> M:
    """`model` with every personal field about one of `subjects` read as `Erased()`.

    For data that arrives after its subject was erased (a partner's signal about a family
    whose key was destroyed): the fact is kept, the personal words are not stored.
    """
    return _erased_at(model, [path for path, subject in personal_values(model)
                              if subject in subjects])


def without_personal_text(model: M) -> M:
    """`model` with every personal *text* (names, free text about someone) read as
    `Erased()`; personal dates stay, because rules decide with them (an age).

    For what a workflow shows of itself (its query, its result): the words are in the
    store, sealed, and read from there by whoever may see them (`domain.case_view`).
    """
    return _erased_at(model, [path for path, _ in personal_values(model)
                              if isinstance(_at(model, path), str)])


def _at(model: BaseModel, path: JsonPath) -> Any:
    value: Any = model
    for step in path:
        # A model by field name; a list or tuple by position, a dict by key.
        value = getattr(value, str(step)) if isinstance(value, BaseModel) else value[step]
    return value


def _erased_at(model: M, paths: list[JsonPath]) -> M:
    if not paths:
        return model
    doc: Any = model.model_dump(mode="json")
    erased = Erased().model_dump(mode="json")
    for path in paths:
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = erased
    return type(model).model_validate(doc)
