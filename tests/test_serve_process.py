"""`medpuls serve` as a real process: what `make run` starts after migrating and the demo."""

from __future__ import annotations

import contextlib
import os
import signal
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


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def _serve_with_its_job_process(tmp_path: Path) -> tuple[subprocess.Popen[str], int, str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/jobs.db"}
    env.update(PORT=str(_free_port()), MEDPULS_LOCAL_CHAT="1")
    subprocess.run([MEDPULS, "db", "upgrade"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [MEDPULS, "serve", "--host", "127.0.0.1"], env=env, stderr=subprocess.PIPE, text=True
    )
    # The child is a second interpreter importing every flow: seconds, more on a loaded machine.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        children = _children(proc.pid)
        if children and _lease_holder(env["DATABASE_URL"]):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("serve started no job process holding the scheduler lease")
    (child,) = children
    return proc, child, env["DATABASE_URL"]


def _lease_holder(url: str) -> str | None:
    from sqlalchemy.exc import OperationalError

    from storage.db import Database
    from storage.leases import lease_holder

    db = Database(url)
    try:
        return lease_holder(db, "scheduler")
    except OperationalError:
        return None  # serve has not created the table yet
    finally:
        db.dispose()


def test_serve_runs_the_scheduler_in_a_child_that_stops_with_it(tmp_path: Path) -> None:
    """A CPU-bound job never holds the web process's GIL (docs/bench.md); SIGTERM leaves no
    orphan, and the child gives the lease back."""
    proc, child, url = _serve_with_its_job_process(tmp_path)
    try:
        # The lease is the child's (its worker id ends in its pid), not serve's.
        assert (_lease_holder(url) or "").endswith(f":{child}")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert not _alive(child)
    assert "Traceback" not in err
    assert _lease_holder(url) is None


def test_the_job_process_stops_when_serve_is_killed(tmp_path: Path) -> None:
    proc, child, _ = _serve_with_its_job_process(tmp_path)
    proc.kill()  # no cleanup in serve at all: the child sees its stdin close
    proc.wait(timeout=10)
    deadline = time.monotonic() + 30
    while _alive(child):
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            raise AssertionError("the job process outlived a killed serve")
        time.sleep(0.1)
