"""Weekly digests: to each leader about their unit and the units below it, and to each
committee's channel before its meeting.

Anonymity first (DESIGN.md, anonymity 1 and 5). A unit's figures are those of everyone in its
subtree, so a unit too small to show is folded into its parent, with a note, never shown
alone. Which figures may be shown is decided by flows.disclosure.decide for the whole
organisation at once, week by week (each week's decision knows what the week before showed),
once per week for turnout and once per (week, dimension) for scores, because the people who
answered a dimension's questions are the group its score describes. Every digest is only a
view of that one decision, so no two digests together reveal more than the decision allows.
Each unit's own round (its summary was posted to its channel) is a known figure too.

Speed (bench/aggregate.py, docs/bench.md: 50,000 members, 2,067 units and leaders, a year of
rounds): the figures come from two GROUP BY queries over RoundResult and Participation for all
units and weeks; a unit's view and chart are built once and reused by every leader who sees it;
charts are painted on a frame drawn once per language and legend (flows.charts.TrendPainter),
for a big run in a child process on the other core (flows.charts.ChartProcess) while this one
builds the messages and writes them in slices; repeated numbers and dates are formatted once.

The package, one concept a module: `weeks` (which weeks a digest covers), `figures` (tallies,
turnout, a unit's view), `picture` (the roll-up and its decision), `loading` (the SQL and the
ledger), `render` (the messages), `batch` (writing them in slices), `sending` (the jobs), `keys`
(dedupe keys) and `preferences` (the leader's command). The jobs are registered here, so the
scheduler names them `flows.digest.<job>` as before the split.
"""

from __future__ import annotations

from flows.digest.batch import ImageIds, new_image_id
from flows.digest.figures import (
    DimensionLine,
    OrgUnit,
    Pipeline,
    Tally,
    Turnout,
    UnitPulse,
)
from flows.digest.loading import gate_with_ledger, load_picture, load_pipelines, strictest_threshold
from flows.digest.picture import Picture
from flows.digest.preferences import on_digest_command, register
from flows.digest.render import chart_png, committee_message, leader_message
from flows.digest.sending import (
    Leader,
    due_at,
    queue_committee_digests,
    queue_leader_digests,
    send_committee_digests,
    send_due_digests,
)
from flows.digest.weeks import EARLIER_WEEKS, SHOWN_WEEKS, Week, week_key, weeks_before
from flows.indices import dimension_label

__all__ = [
    "EARLIER_WEEKS",
    "JOBS",
    "SHOWN_WEEKS",
    "DimensionLine",
    "ImageIds",
    "Leader",
    "OrgUnit",
    "Picture",
    "Pipeline",
    "Tally",
    "Turnout",
    "UnitPulse",
    "Week",
    "chart_png",
    "committee_message",
    "dimension_label",
    "due_at",
    "gate_with_ledger",
    "leader_message",
    "load_picture",
    "load_pipelines",
    "new_image_id",
    "on_digest_command",
    "queue_committee_digests",
    "queue_leader_digests",
    "register",
    "send_committee_digests",
    "send_due_digests",
    "strictest_threshold",
    "week_key",
    "weeks_before",
]

# Named by the scheduler after this package (flows.scheduled_jobs): flows.digest.send_due_digests.
JOBS = [send_due_digests, send_committee_digests]
