"""Reading a region's policy file (TOML) into a `RegionPolicy`.

A region writes only the numbers it changes; every key left out keeps its documented
default (`infra/policies/default.toml` lists them all). A bad file never half-loads:
`load_policy` raises `PolicyFileError` with one message that names the file and every
bad key, so the operator can fix the file in one pass, e.g.

    regio.toml: caseload_cap: must be greater than 0 (got -1)
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from domain.policy import RegionPolicy

POLICY_FILE_ENV = "REGIE_POLICY_FILE"
DEFAULT_POLICY_FILE = Path(__file__).parent / "policies" / "default.toml"


class PolicyFileError(Exception):
    """A policy file could not be read or is invalid. `str(error)` is the full message:
    one line per problem, each starting with the file name."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {problem}" for problem in problems))


def load_policy(path: Path | None) -> RegionPolicy:
    """The policy in the TOML file at `path`; `None` means the defaults."""
    if path is None:
        return RegionPolicy()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyFileError(path, ["no such policy file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyFileError(path, [f"cannot read the policy file: {error}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyFileError(path, [f"not valid TOML: {error}"]) from None
    try:
        return RegionPolicy.model_validate(data)
    except ValidationError as error:
        problems = [line for e in error.errors() for line in _describe(e).splitlines()]
        raise PolicyFileError(path, problems) from None


def policy_from_env(environ: Mapping[str, str] | None = None) -> RegionPolicy:
    """The policy named by `REGIE_POLICY_FILE`; unset or empty means the defaults."""
    env = os.environ if environ is None else environ
    value = env.get(POLICY_FILE_ENV, "").strip()
    return load_policy(Path(value) if value else None)


def _describe(error: ErrorDetails) -> str:
    key = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    got = error.get("input")
    if kind == "extra_forbidden":
        return f"{key}: unknown key{_suggestion(error['loc'])}"
    if kind == "value_error":
        # Our own validators: their message is already written for the reader.
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        if not key:
            # A relation between keys; the message names them itself.
            return message
        return f"{key}: {message} (got {_show(got)})"
    return f"{key}: {_expected(error)} (got {_show(got)})"


def _expected(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "int_type":
        # The usual mistakes: a quoted number ("15") or a decimal (15.0).
        quoted = isinstance(error.get("input"), str)
        return "must be a whole number, without quotes" if quoted else "must be a whole number"
    if kind == "string_type":
        return "must be text in quotes"
    if kind == "model_type":
        return "must be a table of keys"
    # pydantic says "Input should be greater than 0"; the file's reader wants "must be".
    msg = error["msg"]
    prefix = "Input should be "
    return "must be " + msg[len(prefix) :] if msg.startswith(prefix) else msg


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, bool):
        # TOML spells booleans in lower case; Python's True would confuse the reader.
        return str(value).lower()
    return repr(value)


def _suggestion(loc: tuple[int | str, ...]) -> str:
    # Typos are the usual cause of an unknown key; name the key that was probably meant.
    model: type[BaseModel] = RegionPolicy
    for part in loc[:-1]:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f"; did you mean {close[0]}?" if close else ""
