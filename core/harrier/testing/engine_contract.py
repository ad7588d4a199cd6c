"""``EngineContract``: what every embedding engine must do, as a pytest base class.

An engine package (ONNX, another server, a fake for tests) subclasses it in its tests and
provides one fixture, ``engine``::

    from harrier.testing import EngineContract

    class TestMyEngine(EngineContract):
        @pytest.fixture(scope="class")
        @classmethod
        def engine(cls):
            return MyEngine("microsoft/harrier-oss-v1-270m")

The contract checks the members of ``harrier.EmbeddingEngine``, vectors (float32, unit length,
in order, the same alone as in a batch), the query prompt on queries only, the typed errors
of bad input, token counts that the splitter can rely on, the token-id path where the engine
has one, and the engine at work: ``harrier.Index`` over the embedded store and both framework
adapters. With a ``reference`` fixture (texts to vectors, e.g. sentence-transformers on the
same model) it also compares vectors with it. See docs/writing-an-engine.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

import harrier
from harrier._engine import EmbeddingEngine, embeds_token_ids, is_engine

TEXTS = [
    "Rivers carry water from the hills down to the sea.",
    "明天北京的天气很好,我们去公园散步吧。",
    "L'élévation des prix à Paris inquiète les étudiants. 🙂",
    "x",
    "A longer text about glaciers, which carve deep valleys into the mountain rock over many "
    "thousands of years, leaving lakes and moraines behind them when they melt away.",
]
"""Texts of varied scripts and lengths (one a single character)."""


class EngineContract:
    """The engine behaviour tests; subclass it and provide the ``engine`` fixture."""

    atol = 1e-4
    """How far two computations of the same vector may differ (batched vs alone, queries vs
    the prompt put in front by hand); raise it for a reduced-precision engine."""

    kind: str | None = None
    """The engine's name in the ``harrier.engines`` entry point group (``--engine KIND``), when
    it declares one: the contract then opens it by that name, as the command line does."""

    @pytest.fixture(scope="class")
    @classmethod
    def engine(cls) -> EmbeddingEngine:
        """The engine under test: the subclass provides it."""
        raise NotImplementedError("an EngineContract subclass provides the engine fixture")

    @pytest.fixture(scope="class")
    @classmethod
    def reference(cls) -> Callable[[Sequence[str]], np.ndarray] | None:
        """Texts to the vectors an independent implementation gives (None: not compared)."""
        return None

    def test_it_has_every_member_of_the_protocol(self, engine):
        assert is_engine(engine), "an engine has every member of harrier.EmbeddingEngine"
        assert isinstance(engine.model_name, str) and engine.model_name
        assert isinstance(engine.identity, harrier.ModelIdentity) and engine.identity.name
        assert engine.dimension > 0 and engine.max_tokens > 0
        assert isinstance(engine.prompts, dict)

    def test_it_opens_by_its_kind_as_the_command_line_does(self, engine):
        if self.kind is None:
            pytest.skip("kind is None: the engine declares no harrier.engines entry point")
        assert self.kind in harrier.engine_kinds(), "installed, with its entry point"
        opened = harrier.open_engine(self.kind, model=engine.model_name)
        assert type(opened) is type(engine)
        assert opened.identity.same_model(engine.identity)
        np.testing.assert_allclose(
            opened.embed_documents(TEXTS[:2]), engine.embed_documents(TEXTS[:2]), atol=self.atol
        )

    def test_vectors_are_unit_float32_rows_in_order_and_batch_free(self, engine):
        vectors = engine.embed_documents(TEXTS)
        assert vectors.shape == (len(TEXTS), engine.dimension) and vectors.dtype == np.float32
        assert np.isfinite(vectors).all()
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
        alone = np.vstack([engine.embed_documents([text]) for text in reversed(TEXTS)])[::-1]
        np.testing.assert_allclose(vectors, alone, atol=self.atol)
        assert engine.embed_documents([]).shape == (0, engine.dimension)

    def test_the_query_prompt_goes_on_queries_only(self, engine):
        text, instruction = TEXTS[0], "Given a question, find the passage that answers it"
        prompt = engine.query_prompt(instruction)
        assert prompt and instruction in prompt
        queries = engine.embed_queries([text], instruction=instruction)
        by_hand = engine.embed_documents([prompt + text])
        np.testing.assert_allclose(queries, by_hand, atol=self.atol)
        assert not np.allclose(queries, engine.embed_documents([text]), atol=self.atol)
        with pytest.raises(harrier.UnknownPromptError):
            engine.embed_queries([text], prompt_name="no-such-prompt")

    def test_bad_input_gets_typed_errors_never_a_vector(self, engine):
        with pytest.raises(harrier.InputTypeError):
            engine.embed_documents([TEXTS[0], None])
        with pytest.raises(harrier.EmptyTextError):
            engine.embed_documents([TEXTS[0], ""])
        too_long = "river " * (engine.max_tokens + 16)
        with pytest.raises(harrier.TextTooLongError):
            engine.embed_documents([too_long])

    def test_token_counts_hold_for_the_spans_the_splitter_cuts(self, engine):
        limit = 16
        text = " ".join(TEXTS * 4)
        spans = harrier.Splitter(engine, max_tokens=limit).split(text)
        assert len(spans) > 1 and "".join(s.text for s in spans) == text
        counts = engine.count_tokens([s.text for s in spans])
        assert counts == [s.token_count for s in spans]
        assert max(counts) <= limit

    def test_token_ids_embed_as_their_texts_do(self, engine):
        if not embeds_token_ids(engine):
            pytest.skip("the engine embeds texts only (no token_ids / embed_token_ids)")
        rows = engine.token_ids(TEXTS)
        assert [len(row) for row in rows] == engine.count_tokens(TEXTS)
        np.testing.assert_allclose(
            engine.embed_token_ids(rows), engine.embed_documents(TEXTS), atol=self.atol
        )

    def test_vectors_equal_the_reference(self, engine, reference):
        if reference is None:
            pytest.skip("no reference fixture: nothing independent to compare with")
        mine, theirs = engine.embed_documents(TEXTS), np.asarray(reference(TEXTS))
        np.testing.assert_allclose(mine, theirs, atol=self.atol)

    def test_an_index_ingests_and_searches_with_it(self, engine, tmp_path: Path):
        from harrier_qdrant import QdrantStore

        documents = [harrier.SourceDocument(f"d{n}", text) for n, text in enumerate(TEXTS)]
        with harrier.Index(QdrantStore("contract", path=tmp_path / "store"), engine) as index:
            report = index.ingest(documents)
            assert (report.documents, report.skipped) == (len(TEXTS), 0)
            stored = index.store.fetch_spans("d0")
            np.testing.assert_allclose(
                np.vstack([s.vector for s in stored]),
                engine.embed_documents([s.text for s in stored]),
                atol=self.atol,
            )
            hits = index.search(TEXTS[0], k=3, mode="dense")
            assert len(hits) == 3 and [h.score for h in hits] == sorted(
                (h.score for h in hits), reverse=True
            )

    def test_both_frameworks_adapters_take_it(self, engine):
        from langchain_harrier import HarrierEmbeddings
        from llama_index.embeddings.harrier import HarrierEmbedding

        expected = engine.embed_queries([TEXTS[0]])[0]
        langchain = HarrierEmbeddings(embedder=engine)
        llamaindex = HarrierEmbedding(embedder=engine)
        np.testing.assert_allclose(langchain.embed_query(TEXTS[0]), expected, atol=self.atol)
        np.testing.assert_allclose(
            llamaindex.get_query_embedding(TEXTS[0]), expected, atol=self.atol
        )
        document = engine.embed_documents([TEXTS[1]])[0]
        np.testing.assert_allclose(
            langchain.embed_documents([TEXTS[1]])[0], document, atol=self.atol
        )
        np.testing.assert_allclose(
            llamaindex.get_text_embedding(TEXTS[1]), document, atol=self.atol
        )
