"""Device choice, in one place: CUDA when present unless told otherwise."""

from __future__ import annotations

import torch


class DeviceError(ValueError):
    """A device that does not exist on this machine."""


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" -> cuda if available else cpu; otherwise a torch device string ("cuda:1")."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} requested but CUDA is not available here")
    return device
