"""Issue 14 acceptance: hypothesis over headers and bodies against a running `medpuls serve`.

Two real `serve` processes on free ports: one with Slack and Teams (Teams pointed at the fake
Bot Connector, whose keys sign the one valid token of the positive control), one with the local
chat and the demo municipality. A few hundred generated requests, none of them validly signed:
no 5xx, no forgery accepted, no request from a foreign Origin or Host let into the local chat,
no traceback in the log, and the resident set bounded. Run it alone:

    .venv/bin/pytest -q -p no:cacheprovider tests/test_fuzz_serve.py -s
    MEDPULS_FUZZ_EXAMPLES=3000 .venv/bin/pytest -q -p no:cacheprovider tests/test_fuzz_serve.py -s
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.cli.demo import load_demo
from bot.core.secret_key import generate_secret_key
from storage.db import Database
from storage.models import utcnow
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import APP_ID, fixture

MEDPULS = str(Path(sys.executable).parent / "medpuls")
SIGNING_SECRET = "fuzz-signing-secret"
APP_PASSWORD = "not-a-real-secret-but-long-enough-for-hs256"
# Generated requests to the Slack/Teams process; half as many again to the local chat.
EXAMPLES = int(os.environ.get("MEDPULS_FUZZ_EXAMPLES", "200"))
# RSS may grow by the per-route limits times the requests in flight (ten here) plus the
# allocator's slack; before the fix 200 chunked 2 MiB requests, ten at a time, added 59 MB.
RSS_GROWTH_MB = 40
BIG = 2 * 1024 * 1024
seen: dict[str, int] = {}


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(db: Path, name: str, env: dict[str, str]) -> Served:
    port = _free_port()
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_"))},
        "DATABASE_URL": f"sqlite:///{db}",
        "PORT": str(port),
        "MEDPULS_IN_PROCESS_WORKER": "false",
        **env,
    }
    log = db.with_suffix(".log")
    proc = subprocess.Popen(
        [MEDPULS, "serve", "--host", "127.0.0.1"],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    return Served(f"http://127.0.0.1:{port}", proc, log)


def _wait_up(served: Served) -> None:
    for _ in range(600):
        try:
            if httpx.get(f"{served.base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            if served.proc.poll() is not None:
                break
            time.sleep(0.1)
    served.proc.kill()
    raise AssertionError(f"serve did not come up: {served.log.read_text()}")


@pytest.fixture(scope="module")
def connector() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path, connector: FakeBotConnector
) -> Iterator[tuple[Served, Served]]:
    """Both processes start side by side, on copies of the migrated template database."""
    tmp = tmp_path_factory.mktemp("fuzz")
    for name in ("platforms", "local"):
        shutil.copy(_sqlite_template, tmp / f"{name}.db")
    db = Database(f"sqlite:///{tmp}/local.db")
    with db.session() as session:
        load_demo(session, now=utcnow(), tz=ZoneInfo("Europe/Copenhagen"))
    db.dispose()
    env = {
        "MEDPULS_SECRET_KEY": generate_secret_key(),
        "SLACK_BOT_TOKEN": "xoxb-fuzz",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"http://127.0.0.1:{_free_port()}/api/",
        "MICROSOFT_APP_ID": APP_ID,
        "MICROSOFT_APP_PASSWORD": APP_PASSWORD,
        "MICROSOFT_APP_TYPE": "SingleTenant",
        "MEDPULS_PUBLIC_URL": "https://medpuls.example.dk",
        **connector.settings(),
    }
    both = (
        _start(tmp / "platforms.db", "platforms", env),
        _start(tmp / "local.db", "local", {"MEDPULS_LOCAL_CHAT": "1"}),
    )
    try:
        for served in both:
            _wait_up(served)
        yield both
    finally:
        for served in both:
            served.proc.terminate()
        for served in both:
            served.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def platforms(servers: tuple[Served, Served]) -> Served:
    return servers[0]


@pytest.fixture(scope="module")
def local(servers: tuple[Served, Served]) -> Served:
    return servers[1]


# --- what is generated ------------------------------------------------------------------------

_visible = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
_latin = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
header_text = st.one_of(
    st.text(_visible, max_size=40),
    st.text(_latin, max_size=60).map(str.strip),
    st.sampled_from(["", "0", "-1", "1" * 4000, "٣٣٣٣٣٣٣٣٣٣", "²", "1e9", "null", "v0="]),
)
timestamps = st.one_of(
    header_text,
    st.integers(-(10**13), 10**13).map(str),
    st.integers(-400, 400).map(lambda d: str(int(time.time()) + d)),
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=x-no-such-charset",
            "application/json; charset=utf-16",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data; boundary=zz",
            "",
        ]
    ),
    header_text,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _activity_like(changes: dict[str, Any]) -> bytes:
    activity = fixture("message_personal")
    activity.update(changes)
    return json.dumps(activity).encode()


_activity_keys = st.sampled_from(
    ["type", "conversation", "from", "channelData", "serviceUrl", "value", "name", "recipient"]
)
bodies = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(_activity_keys, json_values, max_size=4).map(_activity_like),
    json_values.map(lambda v: b"payload=" + json.dumps({"type": v}).encode()),
    st.sampled_from([b"[" * 50_000, b"\xff\xfe\x00{", b"1" * 5000, b"big", b"big-declared"]),
)


def _content(body: bytes) -> Any:
    if body == b"big":  # chunked, no Content-Length
        return (b"x" * 65536 for _ in range(BIG // 65536))
    if body == b"big-declared":
        return b"x" * BIG
    return body


@dataclass
class Forged:
    tokens: list[str]


@pytest.fixture(scope="module")
def forged(connector: FakeBotConnector) -> Forged:
    """Tokens that must all be refused: the attacks of the finding, and garbage."""
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {
        "serviceurl": "https://smba.trafficmanager.net/emea/",
        "iss": "https://api.botframework.com",
        "aud": APP_ID,
        "nbf": now - 60,
        "exp": now + 3600,
    }
    service = "https://smba.trafficmanager.net/emea/"
    return Forged(
        [
            jwt.encode(claims, None, algorithm="none"),
            jwt.encode(claims, APP_PASSWORD, algorithm="HS256"),
            jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": connector.kid}),
            connector.sign(audience="someone-else", service_url=service),
            connector.sign(audience=APP_ID, service_url=service, issuer="https://evil.example"),
            connector.sign(audience=APP_ID, service_url=service, expires_in=-600),
            connector.sign(audience=APP_ID, service_url="https://evil.example/"),
        ]
    )


def _count(kind: str) -> None:
    seen[kind] = seen.get(kind, 0) + 1


# --- the fuzz ---------------------------------------------------------------------------------


def _send(
    http: httpx.Client, method: str, url: str, headers: dict[str, str], body: bytes | None
) -> httpx.Response:
    encoded = {k: v.encode("utf-8") for k, v in headers.items()}
    content = None if body is None else _content(body)
    return http.request(method, url, headers=encoded, content=content)


def test_positive_controls_are_accepted(
    platforms: Served, connector: FakeBotConnector, local: Served
) -> None:
    """So that the refusals below are the checks at work, not a server that refuses all."""
    body = json.dumps({"type": "url_verification", "challenge": "fuzz"})
    ts = str(int(time.time()))
    base = f"v0:{ts}:{body}".encode()
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    r = httpx.post(
        f"{platforms.base}/slack/events",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
        },
    )
    assert r.status_code == 200 and "fuzz" in r.text
    activity = fixture("installation_update_personal", connector)
    token = connector.sign(audience=APP_ID, service_url=activity["serviceUrl"])
    r = httpx.post(
        f"{platforms.base}/api/messages",
        json=activity,
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    assert r.status_code == 200, r.text
    members = httpx.get(f"{local.base}/local/api/members").json()
    assert len(members) >= 25


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    route=st.sampled_from(["slack", "teams", "teams", "slack-get", "other"]),
    body=bodies,
    content_type=content_types,
    timestamp=timestamps,
    signature=st.one_of(header_text, st.text("0123456789abcdef", min_size=64, max_size=64)),
    which_token=st.integers(-3, 6),
    junk_header=st.tuples(
        st.sampled_from(["X-Slack-Retry-Num", "X-Slack-Retry-Reason", "Host", "Expect"]),
        header_text,
    ),
)
def test_platform_routes_refuse_every_forgery_without_a_5xx(
    platforms: Served,
    forged: Forged,
    route: str,
    body: bytes,
    content_type: str,
    timestamp: str,
    signature: str,
    which_token: int,
    junk_header: tuple[str, str],
) -> None:
    headers = {"Content-Type": content_type}
    method, path = "POST", "/slack/events"
    if route == "slack":
        sig = signature if not signature.isalnum() else f"v0={signature}"
        headers |= {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": sig}
    elif route == "teams":
        path = "/api/messages"
        if which_token >= 0:
            headers["Authorization"] = f"Bearer {forged.tokens[which_token]}"
        elif which_token == -1:
            headers["Authorization"] = signature
    elif route == "slack-get":
        query = urlencode({"code": signature, "state": timestamp})
        method, path, body = "GET", f"/slack/oauth_redirect?{query}", None
    else:
        method = "POST" if which_token % 2 else "GET"
        path = ["/healthz", "/metrics", f"/images/{signature}.png", "/", "/local/api/say"][
            which_token % 5
        ]
    if junk_header[0] != "Host" or junk_header[1]:
        headers[junk_header[0]] = junk_header[1]
    with httpx.Client(base_url=platforms.base, timeout=30) as http:
        try:
            r = _send(http, method, path, headers, body)
        except httpx.RemoteProtocolError:
            _count("connection closed")  # an answer aiohttp's parser gave up on: fine
            return
    _count(f"{route}:{r.status_code}")
    assert r.status_code < 500, (route, path, r.status_code, r.text[:200])
    if route in ("slack", "teams"):
        assert r.status_code >= 400, ("forgery accepted", route, r.status_code, body[:100])


@settings(
    max_examples=EXAMPLES // 2,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    path=st.sampled_from(
        [
            "/local/api/say",
            "/local/api/click",
            "/local/api/submit",
            "/local/api/members",
            "/local/api/messages",
        ]
    ),
    member=st.one_of(st.integers(-2, 40), json_values),
    extra=st.dictionaries(
        st.sampled_from(["text", "data", "values", "conversation", "message_id"]),
        json_values,
        max_size=3,
    ),
    raw=st.one_of(st.none(), bodies),
    content_type=content_types,
    origin=st.sampled_from(["own", "none", "evil", "null", "same-name-other-port"]),
    host=st.sampled_from(["own", "localhost", "rebound", "ip"]),
)
# The attacks of the finding, always tried: a foreign page reading the member list, and a
# rebound name posting as a member with a form.
@example(
    path="/local/api/members",
    member=1,
    extra={},
    raw=None,
    content_type="application/json",
    origin="evil",
    host="own",
)
@example(
    path="/local/api/members",
    member=1,
    extra={},
    raw=None,
    content_type="application/json",
    origin="none",
    host="rebound",
)
@example(
    path="/local/api/say",
    member=1,
    extra={"text": "hej"},
    raw=None,
    content_type="text/plain",
    origin="own",
    host="own",
)
def test_the_local_chat_answers_only_its_own_page_without_a_5xx(
    local: Served,
    path: str,
    member: Any,
    extra: dict[str, Any],
    raw: bytes | None,
    content_type: str,
    origin: str,
    host: str,
) -> None:
    port = local.base.rsplit(":", 1)[1]
    host_value = {
        "own": f"127.0.0.1:{port}",
        "localhost": f"localhost:{port}",
        "rebound": f"medpuls.attacker.example:{port}",
        "ip": f"10.0.0.7:{port}",
    }[host]
    headers = {"Host": host_value, "Content-Type": content_type}
    if origin != "none":
        headers["Origin"] = {
            "own": f"http://{host_value}",
            "evil": "https://attacker.example",
            "null": "null",
            "same-name-other-port": f"http://{host_value.split(':')[0]}:1",
        }[origin]
    method = "GET" if path in ("/local/api/members", "/local/api/messages") else "POST"
    if method == "GET":
        body = None
        who = quote(str(member), safe="")
        path = f"{path}?member={who}&conversation=member:{who}"
    else:
        body = raw if raw is not None else json.dumps({"member": member, **extra}).encode()
    with httpx.Client(base_url=local.base, timeout=30) as http:
        try:
            r = _send(http, method, path, headers, body)
        except httpx.RemoteProtocolError:
            _count("connection closed")
            return
    _count(f"local:{r.status_code}")
    assert r.status_code < 500, (path, headers, r.status_code, r.text[:200])
    foreign = host == "rebound" or origin in ("evil", "null", "same-name-other-port")
    not_json = method == "POST" and not content_type.strip().lower().startswith("application/json")
    if foreign or not_json:
        assert r.status_code >= 400, ("let in", path, headers, r.status_code)


def test_after_the_fuzz_logs_are_clean_and_memory_bounded(platforms: Served, local: Served) -> None:
    print(f"\nfuzz outcomes: {dict(sorted(seen.items()))}")
    for served in (platforms, local):
        log = served.log.read_text(errors="replace")
        assert "Traceback" not in log and "Error handling request" not in log
        assert max((len(line) for line in log.splitlines()), default=0) < 3000
        assert served.proc.poll() is None


@pytest.fixture(scope="module")
def rss_at_start(platforms: Served) -> float:
    return platforms.rss_mb()


def test_rss_after_200_chunked_2_mib_bodies_stays_bounded(
    platforms: Served, rss_at_start: float
) -> None:
    """Ten at a time: before the fix this added 59 MB here (116 MB with bench/body_limits.py's
    client), now about 10."""

    def one(i: int) -> int:
        path = "/slack/events" if i % 2 else "/api/messages"
        with httpx.Client(base_url=platforms.base, timeout=60) as http:
            return _send(
                http, "POST", path, {"Content-Type": "application/json"}, b"big"
            ).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(one, range(200)))
    assert set(statuses) == {413}
    grown = platforms.rss_mb() - rss_at_start
    print(f"\nserve RSS {rss_at_start:.0f} MB -> +{grown:.1f} MB after 200 chunked 2 MiB bodies")
    assert grown < RSS_GROWTH_MB
