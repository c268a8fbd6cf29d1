"""The ESIM matcher and its stages (one module per file)."""

from dupdetect.model.ensemble import Ensemble, Matcher, build_model
from dupdetect.model.matcher import ESIM, PAD_ID

__all__ = ["ESIM", "PAD_ID", "Ensemble", "Matcher", "build_model"]
