"""Scoring a LightGBM text model with numpy: the ranker without importing LightGBM.

``import lightgbm`` pulls in scikit-learn and SciPy (1.3 s here, 2.4 s on a loaded
machine): more than ``kb mcp`` or ``kb search`` may spend starting up. A saved model is a
list of binary trees of numerical splits, so scoring it is a few array look-ups. This reads
the format LightGBM writes (``Tree=N`` blocks: split_feature, threshold, decision_type,
left_child/right_child, with leaf k stored as child ``~k``) and walks every tree for every
row at once, one level per step. tests/test_rank.py checks it against LightGBM's own
``predict`` to 1e-9. Only what kb's ranker uses is supported (numerical splits, one class);
anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: LightGBM's bound under which a value counts as zero (missing type "Zero").
ZERO_THRESHOLD = 1e-35
_DEFAULT_LEFT = 2
_MISSING_ZERO, _MISSING_NAN = 1, 2


class TreeFormatError(ValueError):
    """The text is not a LightGBM model this reader supports."""


@dataclass(frozen=True)
class Forest:
    """All trees' nodes in flat arrays; a child < 0 is leaf ``~child`` (offset per tree)."""

    feature_names: tuple[str, ...]
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    missing: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf_value: np.ndarray
    roots: np.ndarray  # per tree: its root node, or ~leaf for a one-leaf tree
    depth: int

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """The sum of every tree's leaf for each row (LightGBM's raw score)."""
        x = np.asarray(rows, dtype=np.float64)
        n = len(x)
        if not n:
            return np.zeros(0)
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        row = np.arange(n)[:, None]
        for _ in range(self.depth):
            inner = node >= 0
            if not inner.any():
                break
            at = np.where(inner, node, 0)
            value = x[row, self.feature[at]]
            missing = ((self.missing[at] == _MISSING_NAN) & np.isnan(value)) | (
                (self.missing[at] == _MISSING_ZERO) & (np.abs(value) <= ZERO_THRESHOLD))
            go_left = np.where(missing, self.default_left[at], value <= self.threshold[at])
            step = np.where(go_left, self.left[at], self.right[at])
            node = np.where(inner, step, node)
        return self.leaf_value[~node].sum(axis=1)


def _numbers(block: dict[str, str], key: str, kind: type) -> np.ndarray:
    text = block.get(key, "").strip()
    return np.array([kind(v) for v in text.split()] if text else [], dtype=np.float64 if kind is float else np.int64)


def parse_forest(text: str) -> Forest:
    """Read a model saved by ``Booster.model_to_string`` / ``save_model``."""
    header: dict[str, str] = {}
    blocks: list[dict[str, str]] = []
    current = header
    for line in text.splitlines():
        if line.startswith("Tree="):
            current = {}
            blocks.append(current)
        elif line.startswith("end of trees"):
            break
        elif "=" in line:
            key, _, value = line.partition("=")
            current[key] = value
    if header.get("num_class", "1") != "1" or not blocks:
        raise TreeFormatError("not a single-output LightGBM model with trees")
    names = tuple(header.get("feature_names", "").split())
    features, thresholds, defaults, missing, lefts, rights, leaves, roots = [], [], [], [], [], [], [], []
    node_offset = leaf_offset = 0
    depth = 1
    for block in blocks:
        leaf_value = _numbers(block, "leaf_value", float)
        if int(block.get("num_cat", "0")) != 0:
            raise TreeFormatError("categorical splits are not supported")
        if int(block.get("num_leaves", "1")) == 1:
            roots.append(~leaf_offset)
        else:
            decision = _numbers(block, "decision_type", int)
            left, right = _numbers(block, "left_child", int), _numbers(block, "right_child", int)
            features.append(_numbers(block, "split_feature", int))
            thresholds.append(_numbers(block, "threshold", float))
            defaults.append((decision & _DEFAULT_LEFT) > 0)
            missing.append((decision >> 2) & 3)
            lefts.append(np.where(left >= 0, left + node_offset, ~(~left + leaf_offset)))
            rights.append(np.where(right >= 0, right + node_offset, ~(~right + leaf_offset)))
            roots.append(node_offset)
            node_offset += len(left)
            depth = max(depth, len(left))  # an upper bound; the walk stops when all rows reach leaves
        leaves.append(leaf_value)
        leaf_offset += len(leaf_value)

    def joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return Forest(names, joined(features, np.int64), joined(thresholds, np.float64), joined(defaults, bool),
                  joined(missing, np.int64), joined(lefts, np.int64), joined(rights, np.int64),
                  joined(leaves, np.float64), np.array(roots, dtype=np.int64), depth)
