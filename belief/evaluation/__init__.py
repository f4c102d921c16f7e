"""Evaluation: proper scores with the scikit-learn signature ``(y_true, y_prob)``, K-fold
cross-validation of any method, and the generative simulator with known truth.

May import numpy, scipy, pandas and the lower layers.
"""

from belief.evaluation.crossval import evaluate

__all__ = ["evaluate"]
