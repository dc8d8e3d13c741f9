"""Entry point: ``python -m bench [NAME] [ARGS...]``."""

from __future__ import annotations

import sys

from bench import (
    bigcommerce_push,
    feed_ingest,
    inventory_out,
    latency,
    qbo_orders,
    webhook_ingest,
)

BENCHES = {
    "inventory_out": inventory_out.main,
    "bigcommerce_push": bigcommerce_push.main,
    "qbo_orders": qbo_orders.main,
    "webhook_ingest": webhook_ingest.main,
    "latency": latency.main,
    "feed_ingest": feed_ingest.main,
}


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(f"usage: python -m bench [{'|'.join(BENCHES)}] [args]")
        return 0
    if argv and argv[0] in BENCHES:
        return BENCHES[argv[0]](argv[1:])
    if argv:
        print(f"unknown benchmark {argv[0]!r}; known: {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    for run in BENCHES.values():
        code = run([])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
