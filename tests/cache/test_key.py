"""What the key is made of: the normalised question, the scope, the corpus, the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairn.cache import CacheRequest, config_fingerprint, normalise_question
from cairn.config import Settings, load_settings
from cairn.types import Filters


@pytest.mark.parametrize(
    ("asked", "normalised"),
    [
        ("What is a dataclass?", "what is a dataclass"),
        ("  WHAT   is a\tdataclass ?! ", "what is a dataclass"),
        ("What’s “asyncio.gather”?", "what's asyncio.gather"),
        ("(Python 3.11) what changed?", "python 3.11 what changed"),
        ("What is C++?", "what is c++"),
        ("What is C#?", "what is c#"),
        ("Is os.path.join safe…", "is os.path.join safe"),
        ("ﬁle modes", "file modes"),  # NFKC
        ("Straße", "strasse"),  # casefold
        ("__init__ vs __new__?", "__init__ vs __new__"),
    ],
)
def test_normalise_question(asked: str, normalised: str) -> None:
    assert normalise_question(asked) == normalised


def test_punctuation_inside_words_keeps_questions_apart() -> None:
    assert normalise_question("What is C#?") != normalise_question("What is C?")
    assert normalise_question("Python 3.11?") != normalise_question("Python 311?")
    assert normalise_question("What is -1 squared?") != normalise_question("What is 1 squared?")
    assert normalise_question("Is .5 a float?") != normalise_question("Is 5 a float?")
    assert normalise_question("What goes in .env?") == "what goes in .env"
    assert normalise_question("x — and (y)!") == "x and y"


def _req(**kw: object) -> CacheRequest:
    base: dict[str, object] = {"generation": 1, "config": "c"}
    base.update(kw)
    return CacheRequest.build("What is a dataclass?", **base)  # type: ignore[arg-type]


def test_key_parts() -> None:
    r = _req()
    assert r.key == _req().key
    assert r.key == CacheRequest.build("what is a DATACLASS", generation=1, config="c").key
    assert r.key != _req(generation=2).key
    assert r.key != _req(config="d").key
    assert r.key != _req(tenant="acme").key
    assert r.key != _req(corpus_id="store-2").key
    assert r.key != _req(k=3).key
    assert r.key != _req(filters=Filters(principals=())).key
    assert r.key != _req(filters=Filters(source_globs=("*.md",))).key
    assert r.partition != _req(tenant="acme").partition
    assert r.partition == CacheRequest.build("something else", generation=1, config="c").partition


def test_principals_are_canonical() -> None:
    a = _req(filters=Filters(principals=("hr", "eng", "eng")))
    b = _req(filters=Filters(principals=("eng", "hr")))
    assert a.principals == ("eng", "hr") and a.key == b.key
    direct = CacheRequest(question="q", generation=1, config="c", principals=("b", "a"))
    assert direct.principals == ("a", "b")
    assert _req().scope == '{"principals": null, "tenant": null}'
    assert _req(filters=Filters(principals=())).scope == '{"principals": [], "tenant": null}'


def test_filter_order_does_not_matter() -> None:
    a = _req(filters=Filters(tags=("b", "a"), doc_types=("pdf", "html")))
    b = _req(filters=Filters(tags=("a", "b"), doc_types=("html", "pdf")))
    assert a.key == b.key


def _settings(**sections: dict[str, object]) -> Settings:
    return load_settings(**sections)


def test_config_fingerprint_follows_what_shapes_answers() -> None:
    base = config_fingerprint(_settings())
    assert base == config_fingerprint(_settings())
    assert len(base) == 32
    changed = [
        _settings(retrieve={"mode": "lexical"}),
        _settings(retrieve={"k": 8}),
        _settings(retrieve={"alpha": 0.7}),
        _settings(answer={"abstain_threshold": 0.5}),
        _settings(embed={"max_tokens": 128}),
        _settings(llm={"provider": "openai", "model": "gpt-4o"}),
        _settings(guard={"context": "block"}),
        _settings(guard={"spotlight": "datamark"}),
        _settings(guard={"allow_hosts": ["docs.python.org"]}),
    ]
    prints = [config_fingerprint(s) for s in changed]
    assert base not in prints and len(set(prints)) == len(prints)
    openai = _settings(llm={"provider": "openai", "model": "gpt-4o"})
    assert config_fingerprint(openai) != config_fingerprint(
        _settings(llm={"provider": "openai", "model": "gpt-4o-mini"})
    )
    assert config_fingerprint(openai) != config_fingerprint(
        _settings(llm={"provider": "openai", "model": "gpt-4o", "temperature": 0.7})
    )
    assert config_fingerprint(openai) != config_fingerprint(
        _settings(
            llm={"provider": "openai", "model": "gpt-4o", "routes": {"answer": {"model": "o3"}}}
        )
    )
    routed = {"provider": "openai", "model": "gpt-4o"}
    cheap_a = _settings(llm={**routed, "routes": {"cheap": {"model": "gpt-4o-mini"}}},
                        router={"mode": "difficulty"})  # fmt: skip
    cheap_b = _settings(llm={**routed, "routes": {"cheap": {"model": "gpt-4.1-nano"}}},
                        router={"mode": "difficulty"})  # fmt: skip
    assert config_fingerprint(cheap_a) != config_fingerprint(cheap_b)  # the cheap route's model


def test_config_fingerprint_ignores_what_does_not() -> None:
    base = config_fingerprint(_settings(llm={"provider": "openai", "model": "gpt-4o"}))
    same = [
        _settings(llm={"provider": "openai", "model": "gpt-4o", "api_key": "sk-secret"}),
        _settings(llm={"provider": "openai", "model": "gpt-4o", "timeout_s": 5}),
        _settings(llm={"provider": "openai", "model": "gpt-4o"}, server={"port": 9000}),
        _settings(llm={"provider": "openai", "model": "gpt-4o"}, budget={"daily_usd": 5}),
        _settings(llm={"provider": "openai", "model": "gpt-4o"}, trace={"store": False}),
    ]
    assert {config_fingerprint(s) for s in same} == {base}


def test_config_fingerprint_overrides_and_extra() -> None:
    settings = _settings()
    assert config_fingerprint(settings, mode="hybrid") == config_fingerprint(settings)
    assert config_fingerprint(settings, mode="dense") == config_fingerprint(
        _settings(retrieve={"mode": "dense"})
    )
    assert config_fingerprint(settings, model="x") != config_fingerprint(settings)
    assert config_fingerprint(settings, extra={"prompt": "v2"}) != config_fingerprint(settings)


def test_config_fingerprint_follows_the_extractive_models_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cairn.answer.features as features
    from cairn.cache import key

    base = config_fingerprint(_settings())
    retrained = tmp_path / "answer_model.json"
    data = json.loads(features.MODEL_PATH.read_text())
    data["threshold"] = round(data["threshold"] + 0.01, 3)
    retrained.write_text(json.dumps(data))
    monkeypatch.setattr(features, "MODEL_PATH", retrained)
    key._extractive_model_digest.cache_clear()
    try:
        assert config_fingerprint(_settings()) != base
    finally:
        key._extractive_model_digest.cache_clear()
