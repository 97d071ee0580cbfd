"""A webhook drain in a worker process of its own, to be SIGKILLed mid-delivery by test_webhook_kill.py.
KILL_TEST_OVERRIDES (JSON) points it at the test's database and Redis."""
from __future__ import annotations

import json
import os


def main() -> None:
    from server import create_app
    from webhooks import jobs

    app = create_app("test", json.loads(os.environ["KILL_TEST_OVERRIDES"]))
    with app.app_context():
        jobs.drain()


if __name__ == "__main__":
    main()
