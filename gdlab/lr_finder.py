"""The learning-rate range test: moved to ``gdlab.train`` (``gdlab.train.lr_range_test``).

This module re-exports it so existing imports keep working; new code imports from
``gdlab.train``.
"""

from gdlab.train._range_test import (
    SKIP_END,
    RangeTest,
    first_rate_without_progress,
    lr_range_test,
    suggest,
    valley,
)

__all__ = ["SKIP_END", "RangeTest", "first_rate_without_progress", "lr_range_test", "suggest",
           "valley"]
