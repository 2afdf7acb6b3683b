"""docs/workflows.md says what the schema says: every key, its default, unit, choices, range.

The page is written by hand, for people; these tests walk the pydantic
models and fail, naming the key, as soon as the page and the schema differ.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agentroom.room.workflow_schema import choices_of, sections, unit_of

DOCS = Path(__file__).resolve().parents[2] / "docs" / "workflows.md"
README = Path(__file__).resolve().parents[2] / "README.md"


def tables() -> dict[str, dict[str, dict[str, str]]]:
    """Each ``### section`` under "The keys": key -> {type, default, unit, what}."""
    text = DOCS.read_text().split("\n## The keys\n", 1)[1]
    found: dict[str, dict[str, dict[str, str]]] = {}
    section = None
    for line in text.splitlines():
        if line.startswith("### "):
            title = line[4:].strip()
            section = "" if title == "Top level" else title
            found[section] = {}
        elif section is not None and line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            assert len(cells) == 5, f"{section}: a row needs 5 cells: {line}"
            key, kind, default, unit, what = cells
            found[section][key.strip("`")] = {
                "type": kind,
                "default": default,
                "unit": unit,
                "what": what,
            }
    return found


def scalar(value: Any, *, quoted: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"' if quoted else value
    return str(value)


def default_of(field: Any) -> str:
    """The default as the page writes it: ``required``, ``null``, ``"text"``, ``{key: value}``."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        keys = sorted(value.model_fields_set) or [type(value).shorthand]
        inner = ", ".join(f"{k}: {scalar(getattr(value, k), quoted=False)}" for k in keys)
        return f"`{{{inner}}}`"
    if isinstance(value, list):
        return "`[]`" if not value else f"`{value}`"
    return f"`{scalar(value, quoted=True)}`"


def range_words(field: Any) -> list[str]:
    low = high = above = None
    for rule in field.metadata:
        low = getattr(rule, "ge", low)
        above = getattr(rule, "gt", above)
        high = getattr(rule, "le", high)
    if low is not None and high is not None:
        return [f"from {low:g} to {high:g}"]
    if low is not None:
        return [f"at least {low:g}"]
    return [f"above {above:g}"] if above is not None else []


PAGE = tables()
FIELDS = [
    (where, name, field)
    for where, model in sections()
    for name, field in model.model_fields.items()
]


def test_every_part_of_the_schema_has_its_table_and_no_other():
    assert list(PAGE) == [where for where, _ in sections()]


@pytest.mark.parametrize(
    ("where", "name", "field"), FIELDS, ids=[f"{w or 'top'}.{n}" for w, n, _ in FIELDS]
)
def test_every_key_is_documented_as_the_schema_has_it(where, name, field):
    row = PAGE[where].get(name)
    assert row is not None, f"docs/workflows.md: add `{name}` to the {where or 'top level'} table"
    assert row["default"] == default_of(field), f"{where}.{name}: the default"
    assert row["unit"] == (unit_of(field) or ""), f"{where}.{name}: the unit"
    for choice in choices_of(field.annotation):
        assert f"`{choice}`" in row["type"], f"{where}.{name}: the choice {choice}"
    for words in range_words(field):
        assert words in row["type"], f"{where}.{name}: the range ({words})"
    assert row["what"], f"{where}.{name}: say what it does"


def test_the_tables_list_the_keys_in_the_schemas_order_and_nothing_else():
    for where, model in sections():
        assert list(PAGE[where]) == list(model.model_fields), where or "top level"


def test_the_readme_links_the_reference():
    assert "(docs/workflows.md)" in README.read_text()


def test_the_examples_on_the_page_are_valid_workflows(tmp_path):
    from agentroom.room.workflows import parse_workflow

    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert len(blocks) >= 2
    for block in blocks:
        parse_workflow(block, "docs/workflows.md")
