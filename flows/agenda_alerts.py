"""The chairs' alerts of new proposals, registered under this module's name.

The code lives in flows/agenda/alerts.py. This module stays because flows/__init__.py names a
job after the module that lists it: the scheduler has always run the daily bundle as
`flows.agenda_alerts.send_bundles`, and keeps doing so.
"""

from __future__ import annotations

from flows.agenda.alerts import JOBS, register

__all__ = ["JOBS", "register"]
