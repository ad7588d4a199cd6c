"""Errors cross process boundaries whole, and say what to do."""

from __future__ import annotations

import inspect
import pickle

import pytest

import harrier
from harrier import _errors


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


def _example(cls: type[harrier.HarrierError]) -> harrier.HarrierError:
    """An instance built through the class's own constructor, whatever its parameters."""
    params = [
        p
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if not params:
        return cls("something failed; do this instead")
    return cls(*[7 + i for i in range(len(params))])


ERRORS = sorted(
    {
        c
        for c in _all_subclasses(harrier.HarrierError)
        if c.__module__.startswith(("harrier", "harrier_"))
    }
    | {harrier.HarrierError},
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_every_error_pickles_with_its_attributes(cls):
    error = _example(cls)
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is cls
    assert str(restored) == str(error) and restored.args == error.args
    assert vars(restored) == vars(error)


def test_attributes_survive_pickle():
    too_long = pickle.loads(pickle.dumps(harrier.TextTooLongError(3, 900, 512)))
    assert (too_long.index, too_long.token_count, too_long.limit) == (3, 900, 512)
    assert "900 tokens" in str(too_long)
    assert pickle.loads(pickle.dumps(harrier.EmptyTextError(4))).index == 4
    assert pickle.loads(pickle.dumps(harrier.InputTypeError(5, b"x"))).index == 5


def test_the_error_tree_is_all_covered():
    public = {getattr(harrier, n) for n in harrier.__all__}
    declared = {
        v
        for v in vars(_errors).values()
        if isinstance(v, type) and issubclass(v, harrier.HarrierError)
    }
    assert declared <= set(ERRORS) and declared <= public


def test_a_bare_string_says_pass_a_list(qwen_path):
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    for call in (engine.embed_documents, engine.embed_queries, engine.count_tokens):
        with pytest.raises(harrier.InputTypeError) as info:
            call("a single text")
        assert str(info.value) == (
            "the input is a str, expected a list of str: pass [text], not a single string"
        )
        assert info.value.index is None
    with pytest.raises(harrier.InputTypeError, match=r"index 1 is a int, expected str$"):
        engine.embed_documents(["fine", 3])  # type: ignore[list-item]
