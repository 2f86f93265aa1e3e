"""The int8 variant of MiniLM: its own file and name, written atomically, close to fp32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cairn.config import Settings, load_settings
from cairn.embed import MiniLMEmbedder
from cairn.embed.minilm import export_model
from cairn.embed.variants import FILES, NAMES, quantize_int8

pytestmark = pytest.mark.integration

TEXTS = [
    "How do I give a dataclass field a default list?",
    "asyncio.gather runs awaitables concurrently.",
    "The with statement calls __enter__ and __exit__ around its block.",
]


def test_each_variant_has_its_own_name_and_file(tmp_path: Path) -> None:
    fp32 = MiniLMEmbedder(tmp_path, precision="fp32", auto_export=False)
    int8 = MiniLMEmbedder(tmp_path, precision="int8", auto_export=False)
    assert fp32.name != int8.name
    assert {fp32.name, int8.name} == set(NAMES.values())
    assert fp32.onnx_path.name == FILES["fp32"] and int8.onnx_path.name == FILES["int8"]


def test_int8_is_the_default_variant() -> None:
    assert Settings().embed.precision == "int8"


def test_quantisation_writes_atomically_and_keeps_the_vectors_close(tmp_path: Path) -> None:
    source = load_settings().model_dir / FILES["fp32"]
    target = quantize_int8(source, tmp_path / FILES["int8"])
    assert target.is_file() and target.stat().st_size < source.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILES["int8"]]
    (tmp_path / FILES["fp32"]).symlink_to(source)
    fp32 = MiniLMEmbedder(tmp_path, precision="fp32", auto_export=False).embed(TEXTS)
    int8 = MiniLMEmbedder(tmp_path, precision="int8", auto_export=False).embed(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    # per-channel scales keep each vector close to its fp32 original (per-tensor: about 0.92)
    assert np.sum(fp32 * int8, axis=1).min() > 0.98


def test_export_of_int8_only_quantises_when_fp32_is_present(tmp_path: Path) -> None:
    (tmp_path / FILES["fp32"]).symlink_to(load_settings().model_dir / FILES["fp32"])
    path = export_model(tmp_path, "int8")
    assert path == tmp_path / FILES["int8"] and path.is_file()
    assert export_model(tmp_path, "int8") == path  # present: nothing to do
