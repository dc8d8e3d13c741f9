"""The sandboxes stand apart from the clients they simulate: a parsing bug in a client
must not pass on both sides, so a sandbox package imports nothing of its partner's client
(nor of the rest of the hub). Checked in a fresh interpreter, by which stockbridge modules
importing the sandbox loads. The partner package's own ``__init__`` is not run there (the
QuickBooks one wires the connector): what is measured is the sandbox's own imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import importlib.util, json, sys, types
parent = sys.argv[1]
spec = importlib.util.find_spec(parent)  # imports stockbridge.connectors, not parent itself
package = types.ModuleType(parent)
package.__path__ = list(spec.submodule_search_locations)
sys.modules[parent] = package
importlib.import_module(parent + ".sandbox")
print(json.dumps(sorted(m for m in sys.modules if m.startswith("stockbridge"))))
"""


@pytest.mark.parametrize("partner", ["bigcommerce", "qbo"])
def test_a_sandbox_imports_nothing_of_its_client(partner: str) -> None:
    parent = f"stockbridge.connectors.{partner}"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, parent], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout))
    allowed = {"stockbridge", "stockbridge.connectors", parent}
    outside = {m for m in loaded - allowed if not m.startswith(f"{parent}.sandbox")}
    assert outside == set(), f"the {partner} sandbox loads {sorted(outside)}"
    assert f"{parent}.sandbox" in loaded


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("stockbridge.connectors.bigcommerce.sandbox", ["BigCommerceSandbox", "SStore"]),
        ("stockbridge.connectors.qbo.sandbox", ["QboSandbox", "FaultRule", "Books"]),
    ],
)
def test_the_public_import_paths_still_work(module: str, names: list[str]) -> None:
    code = f"from {module} import {', '.join(names)}"
    subprocess.run([sys.executable, "-c", code], check=True)
