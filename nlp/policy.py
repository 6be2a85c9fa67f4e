"""When a ticket needs a person: :class:`ReviewPolicy` and the reasons it gives
(:data:`REVIEW_CODES`). A module of its own, needing nothing but numpy, so that what reads
the policy's defaults (the service's settings, every ``appeals`` command) does not import
scikit-learn for them; :mod:`nlp.model` applies it to each answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["REVIEW_CODES", "ReviewPolicy"]


#: Why a ticket needs a person, in this order: its confidence is under the policy's
#: minimum, its top two departments are too close, it is out of scope (:mod:`nlp.scope`),
#: or it is urgent (紧急, from :class:`nlp.dispatch.Dispatcher`: never left to the policy).
REVIEW_CODES = ("low_confidence", "close_call", "out_of_scope", "urgent")


@dataclass(frozen=True)
class ReviewPolicy:
    """When a human must check: low confidence, the top two departments too close, or a
    ticket out of scope (too little known content, or unlike anything in training; only
    with a model trained with the out-of-scope rule, see :mod:`nlp.scope`).

    The confidence and margin defaults were chosen by grouped cross-validation on the Teddy
    Cup training files (``bench/accuracy.py --sections cv``): the strictest confidence that
    sends about a tenth of whole messages to people (README, "Review policy"). The
    out-of-scope threshold is fitted with the model (``TrainConfig.out_of_scope_rate``);
    ``out_of_scope=False`` turns that rule off.
    """

    min_confidence: float = 0.75
    min_margin: float = 0.2
    out_of_scope: bool = True

    def flagged(
        self,
        top: NDArray[np.float64],
        second: NDArray[np.float64],
        out_of_scope: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.bool_]:
        """Which rows need a person: :meth:`codes` is not empty exactly there."""
        flagged = (top < self.min_confidence) | (top - second < self.min_margin)
        if out_of_scope is not None and self.out_of_scope:
            flagged |= out_of_scope
        return np.asarray(flagged)

    def codes(self, top: float, second: float, *, out_of_scope: bool = False) -> list[str]:
        """Every reason that applies, as :data:`REVIEW_CODES` (in that order)."""
        codes = []
        if top < self.min_confidence:
            codes.append("low_confidence")
        if top - second < self.min_margin:
            codes.append("close_call")
        if out_of_scope and self.out_of_scope:
            codes.append("out_of_scope")
        return codes

    def reason(self, top: float, second: float, *, out_of_scope: bool = False) -> str | None:
        """Every reason that applies, in words, joined by "; " (None when none does)."""
        parts = []
        for code in self.codes(top, second, out_of_scope=out_of_scope):
            if code == "low_confidence":
                parts.append(f"confidence {top:.3f} below {self.min_confidence}")
            elif code == "close_call":
                parts.append(f"top two within {top - second:.3f} (margin {self.min_margin})")
            else:
                parts.append("out of scope: too little known content or unlike the training data")
        return "; ".join(parts) or None
