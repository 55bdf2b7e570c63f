"""Writing digests in slices: messages, their charts (drawn in a child process for a big run)
and audit rows, so what is held stays two slices however big the organisation."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.core.i18n import Lang, Translator
from bot.core.outbox import Outgoing, queue
from flows.charts import ChartProcess, Series
from flows.digest.picture import Picture
from flows.digest.render import chart_of
from storage.models import (
    AuditEntry,
    StoredImage,
)

log = logging.getLogger("medpuls.digest")
ImageIds = Callable[[], str]


def new_image_id() -> str:
    return uuid.uuid4().hex


WRITE_SLICE = 256
# From this many digests on, charts are drawn in a child process on the other core; for a few
# the child's start (a tenth of a second) is not worth it.
CHART_PROCESS_FROM = 100


@dataclass
class _Entry:
    outgoing: Outgoing
    audit: dict[str, object]
    image_id: str | None
    # Names the leader or committee in the log line if its chart fails.
    whose: dict[str, object]


@dataclass
class Batch:
    """Outgoing messages, charts and audit rows gathered before a bulk write.

    With a `painting` process the charts are drawn there while the messages are built and
    written; without one they are drawn at once.
    """

    picture: Picture
    now: dt.datetime
    image_ids: ImageIds
    painting: ChartProcess | None = None
    entries: list[_Entry] = field(default_factory=list)
    images: dict[tuple[int, Lang], str | None] = field(default_factory=dict)
    pngs: dict[str, Future[bytes]] = field(default_factory=dict)
    # How to draw a chart here should the painting process fail it.
    redraw: dict[str, Callable[[], bytes]] = field(default_factory=dict)
    # Charts already stored: a later digest of the same unit and language only names it.
    written: set[str] = field(default_factory=set)
    failed: int = 0
    added: int = 0

    def chart_for(self, unit_id: int, t: Translator) -> str | None:
        key = (unit_id, t.lang)
        if key not in self.images:
            series, title = chart_of(self.picture, unit_id, t)
            image_id = self.image_ids() if series else None
            if image_id is not None:
                self.pngs[image_id] = self._paint(image_id, series, title, t)
            self.images[key] = image_id
        return self.images[key]

    def _paint(
        self, image_id: str, series: list[Series], title: str, t: Translator
    ) -> Future[bytes]:
        painter = self.picture.painter(t)
        if self.painting is not None:
            self.redraw[image_id] = lambda: painter.png(series, title)
            return self.painting.submit(painter, series, title)
        drawn: Future[bytes] = Future()
        try:
            drawn.set_result(painter.png(series, title))
        except Exception as err:  # reported with the message it belongs to, in write
            drawn.set_exception(err)
        return drawn

    def add(
        self,
        outgoing: Outgoing,
        audit: dict[str, object],
        image_id: str | None,
        whose: dict[str, object],
    ) -> None:
        self.entries.append(_Entry(outgoing, audit, image_id, whose))

    def _png(self, image_id: str) -> bytes:
        try:
            return self.pngs[image_id].result()
        except Exception:
            if image_id not in self.redraw:
                raise
        # The process failed it (it died, or could not start Python, or the data is broken):
        # drawn here instead, slower but no digest is lost to the process.
        return self.redraw.pop(image_id)()

    def write_ready(self, session: Session) -> None:
        """Write the slices before the newest, whose charts are still being painted: what
        is held stays two slices, however many digests the organisation has."""
        while len(self.entries) >= 2 * WRITE_SLICE:
            self._write_slice(session, WRITE_SLICE)

    def write(self, session: Session) -> int:
        """Write every message whose chart could be drawn; returns how many."""
        while self.entries:
            self._write_slice(session, WRITE_SLICE)
        return self.added

    def _write_slice(self, session: Session, size: int) -> None:
        if self.painting is not None:
            self.painting.flush()
        head, self.entries = self.entries[:size], self.entries[size:]
        entries: list[_Entry] = []
        images: list[dict[str, object]] = []
        for entry in head:
            if entry.image_id is not None and entry.image_id not in self.written:
                try:
                    png = self._png(entry.image_id)
                except Exception as err:  # one broken chart must not stop the others
                    self.failed += 1
                    log.error(
                        "digest chart not drawn; digest skipped",
                        extra={**entry.whose, "error": type(err).__name__},
                    )
                    continue
                self.written.add(entry.image_id)
                # Written: later digests of the unit only name it.
                self.pngs.pop(entry.image_id, None)
                self.redraw.pop(entry.image_id, None)
                images.append({"id": entry.image_id, "png": png, "created_at": self.now})
            entries.append(entry)
        if images:
            session.execute(insert(StoredImage), images)
        if entries:
            session.execute(insert(AuditEntry), [e.audit for e in entries])
            queue(session, [e.outgoing for e in entries])
        # Keys already queued were left out before building, so every message here is new;
        # the insert's own row count is not reliable across drivers.
        self.added += len(entries)
