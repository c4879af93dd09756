"""Training-floor routes (cohorts, assignments, recruit home, trainer dashboard, exports).

Owned by the training-floor work; `app.create_app` includes `routes()`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
