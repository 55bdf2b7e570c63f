"""The test suite never leaves this machine: tests/conftest.py refuses connections and look-ups
beyond the loopback address, so a forgotten real URL fails here instead of calling Slack."""

from __future__ import annotations

import socket

import httpx
import pytest


def test_a_real_host_is_refused_before_any_packet_leaves() -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get("https://slack.com/api/api.test", timeout=2)


def test_an_outside_address_is_refused_without_a_look_up() -> None:
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("192.0.2.1", 443))


def test_loopback_stays_open() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
