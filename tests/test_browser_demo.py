"""`make run`'s demo in Debian's Chromium (issue 17): a leader's first screen is a digest with a
trend chart whose every line has a point in at least 8 of the 12 weeks, and a heat map of the
units below. The same commands as `make run`, each a real process; the points are counted from
the chart's data as served (its alt text names each line's points), the screenshots show it.

Screenshots go to the test's own folder; with MEDPULS_UPDATE_DOC_PNGS=1 to docs/screenshots/,
where they are committed (a plain `make test` leaves the checkout as it was).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_browser import ARGS, CHROMIUM
from tests.test_serve_process import _free_port

MEDPULS = str(Path(sys.executable).parent / "medpuls")
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
TOP_DIGEST = "Ugens pulsoverblik: Eksempel Kommune"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason="Debian's chromium is not installed (make test installs it)",
    ),
]


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    """`make run`: migrate, load the demo with its history, serve the local chat."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/run.db",
        "PORT": str(_free_port()),
        "MEDPULS_LOCAL_CHAT": "1",
        "MEDPULS_WORKING_HOURS": "always",  # as the Makefile sets for the demo
    }
    for step in (["db", "upgrade"], ["demo"]):
        done = subprocess.run(
            [MEDPULS, *step], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
    proc = subprocess.Popen(
        [MEDPULS, "serve", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("serve did not come up")
        yield base
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err


def _delivered(base: str, member: int, text: str) -> None:
    """Wait for the in-process delivery to bring `text` to the member's DM."""
    for _ in range(300):
        got = httpx.get(
            f"{base}/local/api/messages",
            params={"member": member, "conversation": f"member:{member}"},
            timeout=5,
        ).json()
        if any(text in m["html"] for m in got):
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never reached member {member}")


async def test_a_leader_opens_the_demo_and_sees_a_trend_and_a_heat_map(
    demo_server: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    members = httpx.get(f"{demo_server}/local/api/members", timeout=5).json()
    karen = next(m["id"] for m in members if m["name"] == "Karen Lund")
    _delivered(demo_server, karen, TOP_DIGEST)
    shots = SHOTS if os.environ.get("MEDPULS_UPDATE_DOC_PNGS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1200, "height": 1900})
        await page.goto(demo_server)
        await page.select_option("#who", str(karen))
        digest = page.locator("article.message", has_text=TOP_DIGEST).last
        await digest.wait_for()
        chart = digest.locator('img.chart[alt^="Graf over 12 uger"]')
        heat_map = digest.locator('img.chart[alt^="Varmekort"]')
        alt = await chart.get_attribute("alt") or ""
        heat_alt = await heat_map.get_attribute("alt") or ""
        for image in (chart, heat_map):
            await image.scroll_into_view_if_needed()
            # Served and decoded: a broken image has no natural width.
            await page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=await image.element_handle()
            )
        # The digest from its header down to its chart, then the heat map on its own.
        await digest.evaluate("el => el.scrollIntoView({block: 'start'})")
        await page.screenshot(path=str(shots / "demo-digest.png"))
        await heat_map.screenshot(path=str(shots / "demo-heatmap.png"))
        await browser.close()
    # The chart's lines, as its data says: the two indices and the dimension to watch, each
    # with a point in at least 8 of the 12 weeks.
    lines = re.findall(r"([^:;]+): (\d+) punkter?, seneste (\d+)", alt.split(": ", 1)[1])
    assert len(lines) == 3, alt
    assert all(int(points) >= 8 for _, points, _ in lines), alt
    assert [label.strip() for label, _, _ in lines][:2] == [
        "Social kapital (indeks)",
        "Relationel koordinering (indeks)",
    ]
    # The heat map: a row for every unit below, the pooled small teams without figures.
    assert "7 enheder og 16 dimensioner" in heat_alt, heat_alt
    assert "Hjemmeplejen Nord: At blive hørt" in heat_alt, heat_alt
    assert heat_alt.endswith("Uden tal: Hjemmeplejen Nat, Hjemmeplejen Syd."), heat_alt
    assert (shots / "demo-digest.png").stat().st_size > 10_000
