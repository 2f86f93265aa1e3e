"""The metadata filter options of `search` and `ask`."""

import re
from typing import Annotated

import typer

from cairn.types import Filters

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

SourceOption = Annotated[
    list[str] | None, typer.Option("--source", help="Only sources matching this glob (repeatable).")
]
TypeOption = Annotated[
    list[str] | None, typer.Option("--type", help="Only this document type (repeatable).")
]
TagOption = Annotated[
    list[str] | None, typer.Option("--tag", help="Only documents with this tag (repeatable).")
]
LanguageOption = Annotated[
    list[str] | None,
    typer.Option("--language", help="Only source code in this language, e.g. python (repeatable)."),
]
DateFromOption = Annotated[
    str | None, typer.Option("--date-from", help="Only documents dated on or after YYYY-MM-DD.")
]
DateToOption = Annotated[
    str | None, typer.Option("--date-to", help="Only documents dated on or before YYYY-MM-DD.")
]


def build_filters(
    sources: list[str] | None,
    types: list[str] | None,
    tags: list[str] | None,
    languages: list[str] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> Filters | None:
    """The filters given on the command line; an empty value is refused (it would match
    nothing and silently return no results)."""
    from cairn.cli.common import fail

    checked = (("--source", sources), ("--type", types), ("--tag", tags), ("--language", languages))
    for option, values in checked:
        if any(not v.strip() for v in values or ()):
            raise fail(f"{option} needs a non-empty value (or leave {option} out)")
    for option, day in (("--date-from", date_from), ("--date-to", date_to)):
        if day is not None and not _ISO_DAY.fullmatch(day):
            raise fail(f"{option} takes a date as YYYY-MM-DD, not {day!r}")
    filters = Filters(
        source_globs=tuple(sources or ()),
        doc_types=tuple(types or ()),
        tags=tuple(tags or ()),
        languages=tuple(v.strip().lower() for v in languages or ()),
        date_from=date_from,
        date_to=date_to,
    )
    return None if filters.empty else filters
