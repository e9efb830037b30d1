"""Run a build whose embedder kills its own process (SIGKILL) after N groups: a test helper.

``python tests/resume_killer.py CORPUS INDEX N GROUP`` — used by tests/test_resume.py to check
that a build killed mid-embedding leaves a resume journal the next build reads.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb.index import reuse
from kb.index.build import build_index
from tests.conftest import FakeEmbedder


class KilledEmbedder(FakeEmbedder):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def encode_documents(self, texts, **kwargs):
        if self.groups == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        self.groups -= 1
        return super().encode_documents(texts, **kwargs)


if __name__ == "__main__":
    corpus, index, groups = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    reuse.GROUP = int(sys.argv[4])
    build_index(corpus, index, KilledEmbedder(groups))
