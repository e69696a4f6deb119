"""Demo money (idempotent): billing's régie, brackets, tariffs, the Martin family's financial
profile and the guide's nine open invoices, loaded over billing's HTTP API once every process
answers (see `marelle_billing.demo`, also callable from tests as `load(urls)`).

    python infra/demo_billing.py identity=8101 billing=8104 ...
"""

from __future__ import annotations

import sys

from marelle_billing.demo import load


def main() -> int:
    urls = {name: f"http://127.0.0.1:{port}" for name, port in
            (arg.split("=", 1) for arg in sys.argv[1:])}
    try:
        print(f"demo money: {load(urls)}", file=sys.stderr)
    except Exception as exc:  # the rest of Marelle works without it: say so, do not stop
        print(f"marelle: the demo money could not be loaded: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
