"""Source code files: doc_type `code`, chunked by definitions with tree-sitter.

Every line of the file belongs to the innermost definition (class, function, method, type,
module, namespace...) around it, or to the module itself. Runs of lines with one owner become
`code` blocks whose section is the owner's qualified name (`json.decoder.JSONDecoder.decode`)
and whose anchor is its first line (`L42`), so a hit links to the line. Comments and
decorators directly above a definition belong to it; docstrings, comments, newlines and
indentation are kept verbatim. A long definition is cut at blank lines into pieces the chunker
packs back together under the same section.

The language is the document's `language` metadata. Grammars are the MIT-licensed
`tree-sitter-<language>` wheels from PyPI, loaded lazily, one per language on first use.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cairn.ingest.formats.blocks import BlockBuilder
from cairn.types import ParsedDocument


@dataclass(frozen=True, slots=True)
class Language:
    name: str
    """The `language` metadata value (`python`, `typescript`, `cpp`...)."""
    module: str
    """The grammar package (`tree_sitter_python`)."""
    function: str
    """Its function returning the language pointer."""
    containers: frozenset[str]
    """Definitions whose nested definitions are chunked on their own (classes, modules)."""
    leaves: frozenset[str]
    """Definitions kept whole with everything inside (functions, methods, types)."""
    comment: str
    """Line-comment prefixes that attach to the definition below."""


def _lang(
    name: str, module: str, containers: str, leaves: str, comment: str, function: str = "language"
) -> Language:
    return Language(
        name, module, function, frozenset(containers.split()), frozenset(leaves.split()), comment
    )


_C_TYPES = "struct_specifier union_specifier enum_specifier type_definition"
_JS_LEAVES = (
    "function_declaration generator_function_declaration method_definition "
    "lexical_declaration variable_declaration"
)
_TS_CONTAINERS = "class_declaration abstract_class_declaration internal_module module"
_TS_LEAVES = (
    f"{_JS_LEAVES} interface_declaration type_alias_declaration enum_declaration "
    "abstract_method_signature function_signature"
)
_PYTHON = _lang("python", "tree_sitter_python", "class_definition", "function_definition", "#")
_JAVASCRIPT = _lang(
    "javascript", "tree_sitter_javascript", "class_declaration class", _JS_LEAVES, "//"
)
_TYPESCRIPT = _lang(
    "typescript",
    "tree_sitter_typescript",
    _TS_CONTAINERS,
    _TS_LEAVES,
    "//",
    "language_typescript",
)
_TSX = _lang(
    "typescript", "tree_sitter_typescript", _TS_CONTAINERS, _TS_LEAVES, "//", "language_tsx"
)
_GO = _lang("go", "tree_sitter_go", "", "function_declaration method_declaration type_spec", "//")
_RUST = _lang(
    "rust",
    "tree_sitter_rust",
    "impl_item trait_item mod_item",
    "function_item struct_item enum_item union_item type_item const_item static_item "
    "macro_definition",
    "//",
)
_JAVA = _lang(
    "java",
    "tree_sitter_java",
    "class_declaration interface_declaration enum_declaration record_declaration "
    "annotation_type_declaration",
    "method_declaration constructor_declaration",
    "//",
)
_C = _lang("c", "tree_sitter_c", "", f"function_definition {_C_TYPES}", "//")
_CPP = _lang(
    "cpp",
    "tree_sitter_cpp",
    "namespace_definition class_specifier struct_specifier",
    "function_definition union_specifier enum_specifier type_definition alias_declaration",
    "//",
)
_CSHARP = _lang(
    "csharp",
    "tree_sitter_c_sharp",
    "namespace_declaration class_declaration struct_declaration interface_declaration "
    "record_declaration",
    "method_declaration constructor_declaration property_declaration enum_declaration "
    "delegate_declaration",
    "//",
)
_RUBY = _lang("ruby", "tree_sitter_ruby", "class module", "method singleton_method", "#")
_BASH = _lang("shell", "tree_sitter_bash", "", "function_definition", "#")
_SQL = _lang("sql", "tree_sitter_sql", "", "statement", "--")

LANGUAGES: dict[str, Language] = {
    ".py": _PYTHON,
    ".pyi": _PYTHON,
    ".js": _JAVASCRIPT,
    ".mjs": _JAVASCRIPT,
    ".cjs": _JAVASCRIPT,
    ".jsx": _JAVASCRIPT,
    ".ts": _TYPESCRIPT,
    ".mts": _TYPESCRIPT,
    ".cts": _TYPESCRIPT,
    ".tsx": _TSX,
    ".go": _GO,
    ".rs": _RUST,
    ".java": _JAVA,
    ".c": _C,
    ".h": _C,
    ".cc": _CPP,
    ".cpp": _CPP,
    ".cxx": _CPP,
    ".hpp": _CPP,
    ".hh": _CPP,
    ".hxx": _CPP,
    ".cs": _CSHARP,
    ".rb": _RUBY,
    ".sh": _BASH,
    ".bash": _BASH,
    ".sql": _SQL,
}
"""Source file suffixes and their language."""

SUFFIXES: frozenset[str] = frozenset(LANGUAGES)

_WRAPPERS = frozenset(
    {"decorated_definition", "export_statement", "template_declaration", "ambient_declaration"}
)
"""Nodes that wrap a definition and belong to it (decorators, `export`, `template<>`)."""
_MAX_PIECE_CHARS = 700
"""A definition longer than this is cut at blank lines (the chunker packs pieces together)."""
_TINY_RUN_CHARS = 80
"""A run of lines shorter than this that starts no definition joins its neighbour."""
_SQL_NAME = re.compile(
    r"^\s*(create|alter|drop)\s+(?:or\s+replace\s+)?(?:temp\w*\s+)?(?:unique\s+)?"
    r"(table|view|index|function|procedure|trigger|type|schema|sequence|materialized\s+view)"
    r"\s+(?:if\s+(?:not\s+)?exists\s+)?([\w.\"`\[\]]+)",
    re.I,
)


def language_of(path: Path) -> Language | None:
    """The language of a source file by its suffix, or None."""
    return LANGUAGES.get(path.suffix.lower())


@cache
def _parser(language: Language) -> Any:
    import tree_sitter

    grammar = importlib.import_module(language.module)
    return tree_sitter.Parser(tree_sitter.Language(getattr(grammar, language.function)()))


def module_name(path: Path) -> str:
    """The module a file defines: dotted through Python packages (folders with an
    `__init__.py`), else the file stem (`__init__.py` is its package)."""
    parts = [] if path.stem == "__init__" else [path.stem]
    if path.suffix.lower() in (".py", ".pyi"):
        folder = path.parent
        while (folder / "__init__.py").is_file() and folder.name:
            parts.insert(0, folder.name)
            folder = folder.parent
    return ".".join(parts) or path.parent.name or path.stem


def read(path: Path, text: str) -> ParsedDocument:
    """Read a source file of a language in `LANGUAGES`."""
    language = LANGUAGES[path.suffix.lower()]
    module = module_name(path)
    lines = text.split("\n")
    owners: list[tuple[str, int]] = [(module, 0)] * len(lines)
    tree = _parser(language).parse(text.encode("utf-8"))
    for name, first, last in _definitions(tree.root_node, language, module, text):
        first = _attached_start(lines, first, language.comment)
        for row in range(first, min(last, len(lines) - 1) + 1):
            owners[row] = (name, first)
    out = BlockBuilder()
    for (name, first), start, end in _merged(_runs(owners), lines):
        line = start if name == module else first  # module-level code: where the run starts
        with out.scope(name, f"L{line + 1}"):
            for piece in _pieces(lines[start:end]):
                out.emit("code", piece)
    return ParsedDocument(
        title=module,
        blocks=tuple(out.blocks),
        doc_type="code",
        metadata={"language": language.name},
    )


def _definitions(
    root: Any, language: Language, module: str, text: str
) -> Iterator[tuple[str, int, int]]:
    """`(qualified name, first row, last row)` of every definition, outer before inner."""

    def walk(node: Any, prefix: str) -> Iterator[tuple[str, int, int]]:
        for child in node.named_children:
            kind = child.type
            if kind in language.containers or kind in language.leaves:
                name = _name(child, language, text)
                if name is None:
                    yield from walk(child, prefix)
                    continue
                start = child.parent if child.parent.type in _WRAPPERS else child
                qualified = f"{prefix}.{name}"
                yield qualified, start.start_point.row, child.end_point.row
                if kind in language.containers:
                    yield from walk(child, qualified)
            elif child.named_child_count and kind not in _OPAQUE:
                yield from walk(child, prefix)

    return walk(root, module)


_OPAQUE = frozenset({"string", "comment", "expression_statement", "call", "call_expression"})
"""Nodes never searched for definitions (faster; a definition inside is not an API)."""


_BODY_NEEDED = frozenset(
    {"struct_specifier", "union_specifier", "enum_specifier", "class_specifier"}
)


def _name(node: Any, language: Language, text: str) -> str | None:
    """The name of a definition node, None when it has none worth a section."""
    if language.name == "sql":
        match = _SQL_NAME.match(node.text.decode("utf-8", "replace"))
        return f"{match.group(2).lower()} {match.group(3)}" if match else None
    if node.type in ("lexical_declaration", "variable_declaration"):
        # `const handler = () => ...`: only declarations of functions and classes
        for declarator in node.named_children:
            value = declarator.child_by_field_name("value")
            if value is not None and value.type in (
                "arrow_function",
                "function_expression",
                "function",
                "class",
            ):
                return _text(declarator.child_by_field_name("name"))
        return None
    if node.type == "impl_item":
        kind = _text(node.child_by_field_name("type"))
        trait = _text(node.child_by_field_name("trait"))
        return f"{kind} as {trait}" if kind and trait else kind
    if node.type == "method_declaration" and language.name == "go":
        receiver = node.child_by_field_name("receiver")
        owner = _go_receiver(receiver)
        name = _text(node.child_by_field_name("name"))
        return f"{owner}.{name}" if owner and name else name
    if node.type in _BODY_NEEDED and node.child_by_field_name("body") is None:
        return None  # `struct s *p;`: a use of the type, not its definition
    named = node.child_by_field_name("name")
    if named is not None:
        return _text(named)
    declarator = node.child_by_field_name("declarator")
    while declarator is not None:
        inner = declarator.child_by_field_name("declarator")
        if inner is None or declarator.type in ("qualified_identifier", "destructor_name"):
            return _text(declarator)
        declarator = inner
    return None


def _go_receiver(receiver: Any) -> str | None:
    if receiver is None:
        return None
    for parameter in receiver.named_children:
        kind = parameter.child_by_field_name("type")
        if kind is not None:
            return (_text(kind) or "").lstrip("*").split("[")[0] or None
    return None


def _text(node: Any) -> str | None:
    if node is None:
        return None
    value = " ".join(node.text.decode("utf-8", "replace").split())
    return value or None


def _attached_start(lines: list[str], first: int, comment: str) -> int:
    """Extend a definition upwards over the comment lines directly above it."""
    prefixes = (comment, "/*", "*", "*/", "@")
    while first > 0 and lines[first - 1].strip().startswith(prefixes):
        first -= 1
    return first


def _runs(owners: list[tuple[str, int]]) -> Iterator[tuple[tuple[str, int], int, int]]:
    """Maximal runs of consecutive lines with one owner: `(owner, start, end)`."""
    start = 0
    for row in range(1, len(owners) + 1):
        if row == len(owners) or owners[row] != owners[start]:
            yield owners[start], start, row
            start = row


def _merged(
    runs: Iterator[tuple[tuple[str, int], int, int]], lines: list[str]
) -> list[tuple[tuple[str, int], int, int]]:
    """The runs, with a tiny one that does not start a definition (an `else:`, a lone
    comment between two methods) joined to the run after it (or, at the end, before it):
    on its own it would be a chunk without context."""
    out: list[tuple[tuple[str, int], int, int]] = []
    carry: int | None = None
    for owner, start, end in runs:
        tiny = len("".join(lines[start:end]).strip()) < _TINY_RUN_CHARS
        if tiny and start != owner[1]:
            carry = start if carry is None else carry
            continue
        if carry is not None:
            start, carry = carry, None
        out.append((owner, start, end))
    if carry is not None and out:  # (the first run starts at line 0: it is never carried)
        owner, start, _ = out[-1]
        out[-1] = (owner, start, len(lines))
    return out


def _pieces(lines: list[str]) -> Iterator[str]:
    """The lines as pieces of at most about `_MAX_PIECE_CHARS`, cut at blank lines (or, in a
    long stretch without one, between lines); leading and trailing blank lines dropped. A
    short last piece stays with the one before it."""
    pieces: list[list[str]] = [[]]
    size = 0
    for line in lines:
        blank = not line.strip()
        if size + len(line) > _MAX_PIECE_CHARS and (blank or size > 2 * _MAX_PIECE_CHARS):
            pieces.append([])
            size = 0
        pieces[-1].append(line)
        size += len(line) + 1
    if len(pieces) > 1 and len("\n".join(pieces[-1]).strip()) < _MAX_PIECE_CHARS // 4:
        pieces[-2].extend(pieces.pop())
    for piece in pieces:
        yield from _trimmed(piece)


def _trimmed(lines: list[str]) -> Iterator[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if lines:
        yield "\n".join(line.rstrip() for line in lines)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def identifier_parts(text: str) -> list[str]:
    """The parts of compound identifiers in `text`, for lexical indexing: `getHTTPResponse`
    gives `get HTTP Response`, `raw_decode` gives `raw decode`; simple words give nothing."""
    parts: list[str] = []
    seen: set[str] = set()
    for identifier in _IDENTIFIER.findall(text):
        if identifier in seen:
            continue
        seen.add(identifier)
        pieces = [p for word in identifier.split("_") for p in _CAMEL_PART.findall(word)]
        if len(pieces) > 1:
            parts.extend(pieces)
    return parts
