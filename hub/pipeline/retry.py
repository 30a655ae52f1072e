"""When to retry a camera connection, and which state an outage puts the camera in. Pure."""

from __future__ import annotations

import dataclasses

from hub.core.model import CameraState


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Retry about every second for the first minute of an outage, then back off to ``max_s``.

    A refused password is not retried in a storm: ``auth_s`` between attempts (the owner fixing
    the password through the Hub API reconnects the camera at once). A locked keyring is asked
    again every ``keyring_s``: the camera records as soon as the owner logs in.
    """

    fast_s: float = 1.0
    fast_period_s: float = 60.0
    max_s: float = 30.0
    auth_s: float = 60.0
    keyring_s: float = 10.0  # a locked keyring: asked again this often (it opens at log-in)
    unsupported_s: float = 30.0

    def delay(self, outage_s: float, slow_attempts: int) -> float:
        """Seconds to wait before the next attempt, ``outage_s`` into an outage.

        ``slow_attempts`` counts the attempts made after the fast period; each doubles the wait.
        """
        if outage_s < self.fast_period_s:
            return self.fast_s
        return min(self.max_s, self.fast_s * 2.0 ** min(slow_attempts + 1, 16))

    def state(self, outage_s: float) -> CameraState:
        """``reconnecting`` during the first minute of an outage, then ``offline``."""
        return "reconnecting" if outage_s < self.fast_period_s else "offline"
