"""``LocalModelWrapper``: a local model behind the plain ``ModelWrapper.generate`` call.

The runner drives local models through ``LocalExecutor`` directly. This wrapper is for using one
from Python (``build_wrapper("ltx-video").generate(...)``): ``setup()`` starts the same
persistent workers on a private event loop, and every ``generate`` is one job sent to them.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from vmevalkit.models.base import GenerationResult, ModelWrapper
from vmevalkit.models.executor import GenerationJob


class LocalModelWrapper(ModelWrapper):
    supports_seed = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._executor: Any = None

    def setup(self) -> None:
        from vmevalkit.models.local.executor import LocalExecutor
        from vmevalkit.settings import get_settings

        if self.catalog_entry is None:
            raise RuntimeError("a LocalModelWrapper is built from a catalog entry: use build_wrapper(name)")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="vmevalkit-local", daemon=True)
        self._thread.start()
        self._executor = LocalExecutor(self.catalog_entry, get_settings(), self)
        self._call(self._executor.start())

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            if self._executor is not None:
                self._call(self._executor.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join()
            self._loop.close()
            self._loop = None
            self._is_set_up = False

    def _call(self, coroutine: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _generate(
        self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any
    ) -> GenerationResult:
        seed = int(kwargs.pop("seed"))
        job = GenerationJob(
            image_path=image_path,
            prompt=text_prompt,
            duration=duration,
            seed=seed,
            output_path=output_path,
            params=kwargs,
        )
        result: GenerationResult = self._call(self._executor.execute(job))
        return result
