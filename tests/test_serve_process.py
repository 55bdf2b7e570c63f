"""`medpuls serve` as a real process: what `make run` starts after migrating and the demo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

MEDPULS = str(Path(sys.executable).parent / "medpuls")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_healthz_and_the_chat_page(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/run.db",
        "PORT": str(_free_port()),
        "MEDPULS_LOCAL_CHAT": "1",  # what `make run` sets
    }
    for step in (["db", "upgrade"], ["demo"]):
        subprocess.run([MEDPULS, *step], env=env, check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen(
        [MEDPULS, "serve", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        for _ in range(100):
            try:
                health = httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("serve did not come up")
        assert health.json() == {"ok": True, "platforms": ["local"]}
        page = httpx.get(f"{base}/", timeout=5)
        assert page.status_code == 200 and "MEDpuls" in page.text
        members = httpx.get(f"{base}/local/api/members", timeout=5).json()
        assert len(members) >= 25
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert f"http://localhost:{env['PORT']}/" in err
    assert "Traceback" not in err
