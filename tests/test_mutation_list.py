"""The named mutations (``tools/mutations.toml``, ``./dev mutants --rules``) still break the
code they name: each ``old`` stands exactly once in its file and each listed test file
exists. A refactor that moves the code otherwise turns a mutation into a silent no-op (two
had gone stale that way: orders-in's cursor and the refused API push)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MUTATIONS = tomllib.loads((ROOT / "tools" / "mutations.toml").read_text())["mutation"]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m["name"] for m in MUTATIONS])
def test_each_named_mutation_applies_to_the_code_it_names(mutation: dict[str, object]) -> None:
    source = (ROOT / str(mutation["file"])).read_text()
    assert source.count(str(mutation["old"])) == 1, f"{mutation['name']}: old text not found once"
    tests = mutation["tests"]
    assert isinstance(tests, list) and tests
    for test in tests:
        assert (ROOT / str(test).split("::")[0]).is_file(), f"{mutation['name']}: no {test}"
