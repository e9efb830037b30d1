"""The learned ranker's model: LambdaMART trees saved as LightGBM text, scored without LightGBM.

``ranker.txt`` is LightGBM's own text format, so the model diffs, reviews and loads without
pickle; its hash is the ranker's identity, which every index manifest records (an index is
queried only with the ranker it was built and evaluated for). ``ranker.onnx`` beside it is
the same trees converted at training time (onnxmltools) and scored by onnxruntime, which kb
already loads for its query encoder: ``import lightgbm`` alone costs 1.3–2.4 s of start-up
(it pulls in scikit-learn and SciPy). Without a matching ``.onnx`` the trees are read from
the text and scored with numpy (kb/rank/trees.py): the same scores, a few ms slower.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kb.errors import KbError
from kb.rank.features import FEATURES
from kb.rank.trees import Forest, TreeFormatError, parse_forest

#: The ranker shipped with kb, trained by ``kb model train-ranker`` (see eval/train/README.md).
DEFAULT_MODEL = Path(__file__).with_name("ranker.txt")
#: What an index records when it is ranked by the hand-set formula (``KB_RANKER=formula``).
FORMULA = "formula"
#: The ONNX file's metadata key holding the identity of the text model it was made from.
SOURCE_KEY = "kb_ranker_id"


class RankerError(KbError):
    """The ranker model is missing, unreadable or made for other features."""


def model_id(text: str) -> str:
    return "lambdamart-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def model_path(choice: str) -> Path | None:
    """The model file a ``KB_RANKER`` choice names: the shipped one, a path, or None (formula)."""
    if choice == FORMULA:
        return None
    return DEFAULT_MODEL if choice == "learned" else Path(choice)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise RankerError(f"cannot read the ranker model {path} ({reason}); "
                          "reinstall kb or train one with `kb model train-ranker`") from None


def ranker_identity(choice: str) -> str:
    """What an index built under this choice records (the model's hash, or ``formula``)."""
    path = model_path(choice)
    return FORMULA if path is None else model_id(_read(path))


def _onnx_session(path: Path, identity: str) -> Any | None:
    """An onnxruntime session of ``path`` if it exists and was made from this very text model."""
    if not path.is_file():
        return None
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # a query has a few hundred rows
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    made_from = session.get_modelmeta().custom_metadata_map.get(SOURCE_KEY)
    return session if made_from == identity else None


@dataclass
class LearnedRanker:
    """Scores candidate feature rows; higher is better."""

    forest: Forest
    id: str
    path: Path
    session: Any | None = None  # onnxruntime, when ranker.onnx matches the text model

    @classmethod
    def load(cls, path: Path | str = DEFAULT_MODEL) -> LearnedRanker:
        path = Path(path)
        text = _read(path)
        try:
            forest = parse_forest(text)
        except (TreeFormatError, ValueError) as exc:
            raise RankerError(f"the ranker model {path} is not a LightGBM ranking model ({exc})") from None
        if forest.feature_names != FEATURES:
            raise RankerError(f"the ranker model {path} was trained on other features "
                              f"({len(forest.feature_names)} columns, kb computes {len(FEATURES)}); retrain it with "
                              "`kb model train-ranker`")
        identity = model_id(text)
        return cls(forest=forest, id=identity, path=path, session=_onnx_session(path.with_suffix(".onnx"), identity))

    def uses(self, feature: str) -> bool:
        """Whether any tree splits on ``feature`` (a feature no tree reads need not be computed)."""
        return FEATURES.index(feature) in set(self.forest.feature.tolist())

    def score(self, features: np.ndarray) -> np.ndarray:
        if not len(features):
            return np.zeros(0, dtype=np.float64)
        if self.session is not None:
            rows = np.ascontiguousarray(features, dtype=np.float32)
            return np.asarray(self.session.run(None, {"x": rows})[0], dtype=np.float64).ravel()
        return self.forest.predict(features)


def export_onnx(text: str, out: Path) -> None:
    """Convert a LightGBM text model to ONNX (training time only: needs lightgbm + onnxmltools)."""
    import lightgbm
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    booster = lightgbm.Booster(model_str=text)
    model = convert_lightgbm(booster, initial_types=[("x", FloatTensorType([None, booster.num_feature()]))],
                             target_opset=15)
    entry = model.metadata_props.add()
    entry.key, entry.value = SOURCE_KEY, model_id(text)
    tmp = out.with_suffix(".onnx.tmp")
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(out)
