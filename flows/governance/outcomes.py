"""How a governance request ends: the values of ThresholdChange.outcome and HideRequest.outcome
(NULL while the request waits for the other side), and what the requester is told.

```
threshold change: waiting --raise--> in_force
                  waiting --other side approves--> in_force
                  waiting --other side rejects--> rejected
                  waiting --a newer request of the same kind--> superseded
hide request:     waiting --employee side approves--> hidden
                  waiting --other side keeps it--> rejected
```
"""

from __future__ import annotations

from typing import Final, Literal

ThresholdOutcome = Literal["in_force", "superseded", "rejected"]
HideOutcome = Literal["hidden", "rejected"]

IN_FORCE: Final = "in_force"
SUPERSEDED: Final = "superseded"
REJECTED: Final = "rejected"
HIDDEN: Final = "hidden"

# What the one who asked is told (texts governance.requester_<...> and governance.hide_<...>).
ThresholdTold = Literal["approved", "rejected"]
HideTold = Literal["done", "kept"]
