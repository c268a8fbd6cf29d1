"""dupdetect: decide whether two texts say the same thing.

from dupdetect import DupDetector
detector = DupDetector.load("runs/lcqmc")
probabilities = detector.predict([("how old are you", "what is your age")])
"""

from __future__ import annotations

__version__ = "0.1.0"

from dupdetect.detector import DupDetector

__all__ = ["DupDetector", "__version__"]
