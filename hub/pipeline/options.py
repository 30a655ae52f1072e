"""What a camera's configuration tells its driver."""

from __future__ import annotations

from hub.core.model import CameraConfig


def driver_options(cfg: CameraConfig) -> dict[str, str]:
    """The camera's driver settings (``cfg.device``) as the string options a StreamRequest carries."""
    return {str(k): str(v) for k, v in cfg.device.items() if isinstance(v, str | int | float | bool)}
