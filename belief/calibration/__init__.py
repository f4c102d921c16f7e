"""Calibration on resolved cases: empirical-Bayes EM and the joint model's Bayesian fit, learning
reliability priors per source and kind, the base rate, the side effect and signal effects.

May import numpy, scipy, pandas and the lower layers (data, priors, core, engines).
"""

from belief.calibration.calibrate import calibrate, fit_em

__all__ = ["calibrate", "fit_em"]
