"""Retention: which recordings to keep, as a pure, unit-tested function."""

from hub.retention.policy import (
    CameraRetention,
    Deletion,
    DiskState,
    RetentionPlan,
    RetentionSettings,
    from_settings,
    plan_retention,
)

__all__ = [
    "CameraRetention",
    "Deletion",
    "DiskState",
    "RetentionPlan",
    "RetentionSettings",
    "from_settings",
    "plan_retention",
]
