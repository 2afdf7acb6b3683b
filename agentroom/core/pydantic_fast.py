"""The one place agentroom builds pydantic models unvalidated, faster than pydantic would.

Why: the bus stamps every envelope it publishes, each agent that hears one
records it as a :class:`~agentroom.core.protocol.Message`, and the store
rebuilds envelopes from its own rows: all from fields already checked.  For
those, pydantic's public :meth:`~pydantic.BaseModel.model_construct` costs
about 5 µs an object (it walks every field looking for aliases and
defaults, and is slower than validating), this about 1 µs, on a path that
runs three times per message.

What it relies on (pydantic 2, and checked by ``tests/core/test_pydantic_fast.py``,
which names the version when it breaks): a model instance is exactly the four
slots of :class:`pydantic.BaseModel` (``__dict__`` holding the field values,
``__pydantic_fields_set__``, ``__pydantic_extra__``, ``__pydantic_private__``),
as ``model_construct`` itself fills them, for a model with no private
attributes, no ``model_post_init`` and no extra fields allowed.

If an upgrade changes those slots, :data:`FAST` is false and :func:`trusted`
goes through ``model_construct``: slower, still right.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

EXPECTED_SLOTS = (
    "__dict__",
    "__pydantic_fields_set__",
    "__pydantic_extra__",
    "__pydantic_private__",
)
"""The instance layout of :class:`pydantic.BaseModel` that the fast path writes."""

FAST = tuple(getattr(BaseModel, "__slots__", ())) == EXPECTED_SLOTS
"""Whether this pydantic still lays out its models as :data:`EXPECTED_SLOTS`."""

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__
_ALL_FIELDS: dict[type[BaseModel], set[str]] = {}


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """A ``cls`` holding ``values`` (every field, already valid), unvalidated.

    ``values`` becomes the instance's own field dict: the caller hands it over
    and must not change it afterwards.  Equal to ``cls.model_construct(**values)``.
    """
    fields = _ALL_FIELDS.get(cls)
    if fields is None:
        fields = _ALL_FIELDS[cls] = _fields_of(cls)
    if not FAST:
        return cls.model_construct(fields.copy(), **values)
    obj = cls.__new__(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", fields.copy())  # every field is given
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def _fields_of(cls: type[BaseModel]) -> set[str]:
    """``cls``'s field names, once it is known that leaving out pydantic's hooks is right."""
    if (
        cls.__private_attributes__
        or cls.__pydantic_post_init__
        or cls.model_config.get("extra") == "allow"
    ):
        raise TypeError(
            f"{cls.__name__} has private attributes, a model_post_init or extra fields: "
            "pydantic_fast.trusted would leave them unset; use model_construct or validate"
        )
    return set(cls.model_fields)
