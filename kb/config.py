"""Every setting kb reads from the environment, in one place.

kb takes its settings from command-line options first and ``KB_*`` environment variables
second; this module is the only one that reads the environment, so the README's table
and the code cannot drift apart. :func:`settings` reads the variables afresh on every
call (tests and the app's subprocesses change them), and never caches.

| variable | default | what it sets |
|---|---|---|
| ``KB_HOME`` | ``~/.cache/kb`` | where the converted model and ONNX query encoders live |
| ``KB_INDEX`` | ``index`` | index folder when ``--index`` is not given |
| ``KB_MODEL`` | the built-in e5-small-q4 | embedding model name or path when ``--model`` is not given |
| ``KB_PORT`` | ``7860`` | the app's port when ``--port`` is not given |
| ``KB_QUERY_ENCODER`` | ``int8`` | query encoder: ``int8`` or ``fp32`` ONNX export, or ``torch`` |
| ``KB_QUERY_THREADS`` | ``1`` | threads of the ONNX query encoder |
| ``KB_USE_THREADS`` | ``1`` | threads of the second encoder (multilingual USE) at query time |
| ``KB_RANKER`` | ``learned`` | ranking: ``learned`` (the shipped LambdaMART model), ``formula`` (the hand-set fusion) or a model file |
| ``KB_PROGRESS`` | off | ``1`` shows progress bars even when stderr is not a terminal |
| ``KB_PUBLIC_URL`` | the request's | the app's address in share links and CSV ``link`` cells, e.g. ``https://kb.city.example/`` (behind a proxy) |
| ``KB_ALLOWED_HOSTS`` | none | further host names (comma-separated) the app's add-a-plan routes answer to, beside loopback and the bound address |
| ``KB_DEBUG`` | off | ``1`` lets unexpected errors end with their traceback |
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The ``KB_*`` environment, typed. Empty values count as unset."""

    model_config = SettingsConfigDict(env_prefix="KB_", env_ignore_empty=True, extra="ignore")

    home: Path = Path("~/.cache/kb")
    index: Path = Path("index")
    model: str | None = None
    port: int = 7860
    query_encoder: str = ""
    query_threads: int = 1
    use_threads: int = 1
    ranker: str = "learned"
    progress: bool = False
    #: The app's public address; share links are absolute so they work from Excel or an e-mail.
    public_url: str = ""
    #: Host names (comma-separated) besides loopback that may add plans from the page (kb/ui/guard.py).
    allowed_hosts: str = ""
    debug: bool = False

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()


def settings() -> Settings:
    """The current environment's settings (read now, not cached)."""
    return Settings()
