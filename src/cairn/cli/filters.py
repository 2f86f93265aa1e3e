"""The metadata filter options of `search` and `ask`."""

from typing import Annotated

import typer

from cairn.types import Filters

SourceOption = Annotated[
    list[str] | None, typer.Option("--source", help="Only sources matching this glob (repeatable).")
]
TypeOption = Annotated[
    list[str] | None, typer.Option("--type", help="Only this document type (repeatable).")
]
TagOption = Annotated[
    list[str] | None, typer.Option("--tag", help="Only documents with this tag (repeatable).")
]


def build_filters(
    sources: list[str] | None, types: list[str] | None, tags: list[str] | None
) -> Filters | None:
    """The filters given on the command line; an empty value is refused (it would match
    nothing and silently return no results)."""
    from cairn.cli.common import fail

    for option, values in (("--source", sources), ("--type", types), ("--tag", tags)):
        if any(not v.strip() for v in values or ()):
            raise fail(f"{option} needs a non-empty value (or leave {option} out)")
    filters = Filters(
        source_globs=tuple(sources or ()), doc_types=tuple(types or ()), tags=tuple(tags or ())
    )
    return None if filters.empty else filters
