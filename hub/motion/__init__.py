"""Local motion detection: per-frame detector (:mod:`.detector`) and event state machine (:mod:`.tracker`)."""

from hub.motion.detector import MotionDetector, MotionResult, shrink_luma
from hub.motion.tracker import Action, EventEnded, EventStarted, MotionEventTracker

__all__ = [
    "Action",
    "EventEnded",
    "EventStarted",
    "MotionDetector",
    "MotionEventTracker",
    "MotionResult",
    "shrink_luma",
]
