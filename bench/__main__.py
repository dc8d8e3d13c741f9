"""Entry point: ``python -m bench [NAME] [ARGS...]``.

Only the named bench's module is imported: a bench that measures its process's peak RSS
must not carry the other benches' imports (the sandboxes' web frameworks alone add about
70 MB).
"""

from __future__ import annotations

import importlib
import sys

BENCHES = (
    "inventory_out",
    "bigcommerce_push",
    "qbo_orders",
    "webhook_ingest",
    "latency",
    "feed_ingest",
    "catalog_push",
    "qbwc_session",
    "workers",
    "echo_push",
    "orders_in",
)


def run(name: str, argv: list[str]) -> int:
    module = importlib.import_module(f"bench.{name}")
    code: int = module.main(argv)
    return code


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(f"usage: python -m bench [{'|'.join(BENCHES)}] [args]")
        return 0
    if argv and argv[0] in BENCHES:
        return run(argv[0], argv[1:])
    if argv:
        print(f"unknown benchmark {argv[0]!r}; known: {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    for name in BENCHES:
        code = run(name, [])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
