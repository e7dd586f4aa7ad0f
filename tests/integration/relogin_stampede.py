"""Run in its own process (Locust monkey-patches the interpreter): 50 greenlets see one stale token.

Prints `logins=N` where N is how many logins the shared user made; a tiny real HTTP server answers.
"""

from __future__ import annotations

import gevent
import locust  # noqa: F401  (monkey-patches first, as in a Locust process)
from gevent.pywsgi import WSGIServer
from locust.env import Environment

import json

from locustfiles.common.actors import Actor
from locustfiles.common.client import make_session

calls = {"login": 0}


def app(environ: dict[str, object], start_response: object) -> list[bytes]:
    calls["login"] += 1
    gevent.sleep(0.2)  # a slow login: every greenlet is waiting while it runs
    body = json.dumps({"accessToken": f"fresh-{calls['login']}", "user": {"id": "u1", "role": "BUYER"}})
    start_response("200 OK", [("Content-Type", "application/json")])  # type: ignore[operator]
    return [body.encode()]


def main() -> None:
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    try:
        session = make_session(
            Environment(), f"http://127.0.0.1:{server.server_port}", connections=60, timeout_s=5
        )
        actor = Actor("u1", "BUYER", "b@x.test", "pw", token="stale")
        tokens = [gevent.spawn(actor.renew, session, "stale") for _ in range(50)]
        gevent.joinall(tokens, timeout=10)
        assert {t.value for t in tokens} == {"fresh-1"}, {t.value for t in tokens}
        print(f"logins={actor.logins}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
