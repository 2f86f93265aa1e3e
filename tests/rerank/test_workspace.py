"""The rerank stage as the workspace builds it from `[rerank]`: the LLM backend against the
fake OpenAI-compatible server (metered under the feature `rerank`, in the request's cost),
the cross-encoder from a model folder, and the configuration errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app
from cairn.config import Settings
from cairn.errors import ConfigError
from cairn.llm.fake_server import FakeLLMServer
from cairn.rerank.cross_encoder import CrossEncoderReranker
from cairn.rerank.llm import LLMReranker
from cairn.stages import KeepOrder
from cairn.workspace import Workspace

pytestmark = pytest.mark.integration
QUESTION = "How do I make a dataclass immutable?"


@pytest.fixture(scope="module")
def root(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ws-rerank")
    result = CliRunner().invoke(app, ["ingest", str(docs_corpus), "--workspace", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as s:
        yield s


def workspace(root: Path, **sections: dict[str, object]) -> Workspace:
    return Workspace(Settings(workspace=root, **sections))  # type: ignore[arg-type]


def model_llm(server: FakeLLMServer) -> dict[str, object]:
    return {
        "provider": "openai",
        "base_url": server.url,
        "model": "fake",
        "price_input_per_mtok": 1.0,
        "price_output_per_mtok": 2.0,
        "retries": 0,
    }


def test_the_default_pipeline_keeps_the_order(root: Path) -> None:
    ws = workspace(root)
    try:
        pipeline = ws.pipeline(shadow=False)
        assert isinstance(pipeline.reranker, KeepOrder) and pipeline.rerank_depth == 0
    finally:
        ws.close()


def test_the_llm_backend_reranks_each_ask_and_its_call_is_metered(
    root: Path, server: FakeLLMServer
) -> None:
    ws = workspace(
        root,
        llm=model_llm(server),
        rerank={"backend": "llm", "depth": 8},
        answer={"fallback": "error"},
    )
    try:
        pipeline = ws.pipeline(shadow=False)
        assert isinstance(pipeline.reranker, LLMReranker) and pipeline.rerank_depth == 8
        baseline = pipeline.retriever.retrieve(QUESTION, 8)
        server.enqueue("8 > 7 > 1")  # the rerank call; the answer is the server's RAG reply
        answer = pipeline.ask(QUESTION)
        rerank_prompt = server.requests[0].last_user
        assert rerank_prompt.count("<passage ") == 8 and "Rank the 8 passages" in rerank_prompt
        answer_prompt = server.requests[1].last_user
        order = [baseline[7].chunk.text, baseline[6].chunk.text, baseline[0].chunk.text]
        positions = [answer_prompt.find(text[:60]) for text in order]
        assert -1 not in positions and positions == sorted(positions)
        assert [h.chunk.id for h in answer.hits][:3] == [
            baseline[7].chunk.id,
            baseline[6].chunk.id,
            baseline[0].chunk.id,
        ]
        lines = [e for e in ws.budget.ledger.entries() if e.trace_id == answer.trace_id]
        features = sorted(e.feature for e in lines)
        assert features == ["ask", "rerank"]
        assert answer.cost_usd == pytest.approx(float(sum(e.cost_usd for e in lines)))
    finally:
        ws.close()


def test_a_failing_rerank_model_leaves_the_answer_to_the_retrievers_order(
    root: Path, server: FakeLLMServer
) -> None:
    ws = workspace(root, llm=model_llm(server), rerank={"backend": "llm", "depth": 8})
    try:
        pipeline = ws.pipeline(shadow=False)
        baseline = pipeline.retriever.retrieve(QUESTION, 5)
        server.push_faults("500")  # the rerank call fails; the answer call goes through
        answer = pipeline.ask(QUESTION)
        assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in baseline]
        assert not answer.abstained
    finally:
        ws.close()


def test_the_llm_backend_needs_a_model(root: Path) -> None:
    ws = workspace(root, rerank={"backend": "llm"})
    try:
        with pytest.raises(ConfigError, match="needs a model"):
            ws.pipeline(shadow=False)
    finally:
        ws.close()


def test_the_cross_encoder_backend_reads_its_folder(root: Path, tmp_path: Path) -> None:
    ws = workspace(root, rerank={"backend": "cross-encoder", "model_path": str(tmp_path)})
    try:
        with pytest.raises(ConfigError, match="lacks model"):
            ws.pipeline(shadow=False)
        from tests.rerank.test_cross_encoder import build_model

        build_model(tmp_path)
        pipeline = ws.pipeline(shadow=False)
        assert isinstance(pipeline.reranker, CrossEncoderReranker)
        assert pipeline.rerank_depth == 20
        answer = pipeline.ask(QUESTION)
        assert len(answer.hits) == ws.settings.retrieve.k
    finally:
        ws.close()
