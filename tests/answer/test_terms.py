from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cairn.answer import terms


def test_content_terms_stem_and_drop_stop_words() -> None:
    assert terms.content_terms("How do I run the dataclasses_fields?") == [
        "run",
        "dataclasses_field",
        "dataclass",
        "field",
    ]


def test_stemming_is_thread_safe() -> None:
    words = [f"running{i}s" for i in range(3000)] + [f"jumping{i}ed" for i in range(3000)]
    expected = {w: terms._stemmer().stemWord(w) for w in words}  # type: ignore[attr-defined]
    terms.stem.cache_clear()

    def stem_all(chunk: list[str]) -> list[tuple[str, str]]:
        return [(w, terms.stem(w)) for w in chunk]

    chunks = [words[i::8] for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for results in pool.map(stem_all, chunks):
            for word, got in results:
                assert got == expected[word]
