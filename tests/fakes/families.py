"""Every provider family's fakes, started together, with the CLI environment that points at them.

For tests that run the same scenario against all nine families: ``FAMILIES[name].start(video)``
gives a ``Running`` family (its API fake, the servers beside it, the env and model arguments).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from fakes import fal, gemini_veo, kling, luma, minimax, openai_sora, replicate, runway, wavespeed
from fakes.harness import api_env
from fakes.server import FakeServer, Request


@dataclass
class Running:
    name: str
    api: FakeServer  # the provider's API: its "submit" route creates the paid job
    others: list[FakeServer]  # CDNs, buckets: started and stopped with it
    env: dict[str, str]
    model: tuple[str, ...]
    secrets: Callable[[], list[str]]  # every secret the CLI sends this provider (Kling: the tokens too)
    recovers: bool  # whether the provider can find a job whose submit answer was lost

    def stop(self) -> None:
        # Side by side: each shutdown waits for its server's poll loop.
        stopping = [threading.Thread(target=server.stop) for server in (self.api, *self.others)]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()

    def echo_secrets(self) -> None:
        """From now on the API echoes every secret it was sent in every text of its answers."""
        self.api.echo_secrets = lambda req: self.secrets()

    def submits(self) -> list[Request]:
        return self.api.calls("submit")


@dataclass(frozen=True)
class Family:
    name: str
    start: Callable[[bytes], Running]


def _runway(video: bytes) -> Running:
    cdn = runway.FakeCdn(video).start()
    api = runway.FakeRunway(video, cdn=cdn).start()
    env = api_env(RUNWAYML_BASE_URL=api.base_url, RUNWAYML_API_SECRET=runway.KEY)
    return Running("runway", api, [cdn], env, ("--model", "runway-gen4-turbo"), lambda: [runway.KEY], False)


def _luma(video: bytes) -> Running:
    cdn = luma.LumaCdn(video).start()
    bucket = luma.FakeBucket().start()
    api = luma.FakeLuma(video, cdn=cdn).start()
    env = api_env(
        LUMA_BASE_URL=api.base_url,
        LUMA_API_KEY=luma.KEY,
        VMEVALKIT_IMAGE_HOST="vmk_test_hosts:FakeBucketHost",
        VMK_FAKE_BUCKET_URL=bucket.base_url,
    )
    return Running("luma", api, [cdn, bucket], env, ("--model", "luma-ray-2"), lambda: [luma.KEY], True)


def _openai(video: bytes) -> Running:
    api = openai_sora.FakeOpenAIVideos(video).start()
    env = api_env(OPENAI_BASE_URL=f"{api.base_url}/v1", OPENAI_API_KEY=openai_sora.KEY)
    return Running("openai", api, [], env, ("--model", "openai-sora-2"), lambda: [openai_sora.KEY], False)


def _gemini(video: bytes) -> Running:
    storage = gemini_veo.FakeStorage(video).start()
    api = gemini_veo.FakeGemini(video, storage=storage).start()
    env = api_env(GEMINI_BASE_URL=api.base_url, GEMINI_API_KEY=gemini_veo.KEY)
    return Running("gemini", api, [storage], env, ("--model", "veo-3.0-generate"), lambda: [gemini_veo.KEY], False)


def _wavespeed(video: bytes) -> Running:
    cdn = wavespeed.FakeWaveSpeedCdn(video).start()
    api = wavespeed.FakeWaveSpeed(video, cdn=cdn).start()
    env = api_env(WAVESPEED_BASE_URL=api.base_url, WAVESPEED_API_KEY=wavespeed.KEY)
    model = ("--model", "wavespeed-wan-2-1-i2v-480p")
    return Running("wavespeed", api, [cdn], env, model, lambda: [wavespeed.KEY], False)


def _kling(video: bytes) -> Running:
    cdn = kling.FakeKlingCdn(video).start()
    api = kling.FakeKling(video, cdn=cdn).start()
    env = api_env(KLING_BASE_URL=api.base_url, KLING_ACCESS_KEY=kling.ACCESS_KEY, KLING_SECRET_KEY=kling.SECRET_KEY)
    env.pop("KLING_API_KEY", None)

    def secrets() -> list[str]:  # the signed tokens it was shown are secrets too
        return [kling.ACCESS_KEY, kling.SECRET_KEY, *sorted(set(api.tokens))]

    return Running("kling", api, [cdn], env, ("--model", "kling-v2-1-std"), secrets, True)


def _minimax(video: bytes) -> Running:
    cdn = minimax.FakeMiniMaxCdn(video).start()
    api = minimax.FakeMiniMax(video, cdn=cdn).start()
    env = api_env(MINIMAX_BASE_URL=api.base_url, MINIMAX_API_KEY=minimax.KEY)
    return Running("minimax", api, [cdn], env, ("--model", "minimax-hailuo-2-3"), lambda: [minimax.KEY], False)


def _fal(video: bytes) -> Running:
    cdn = fal.FakeFalCdn(video).start()
    api = fal.FakeFal(video, cdn=cdn).start()
    env = api_env(FAL_BASE_URL=api.base_url, FAL_KEY=fal.KEY)
    return Running("fal", api, [cdn], env, ("--model", "fal-kling-v2-1-standard"), lambda: [fal.KEY], False)


def _replicate(video: bytes) -> Running:
    delivery = replicate.FakeReplicateDelivery(video).start()
    api = replicate.FakeReplicate(video, cdn=delivery).start()
    env = api_env(REPLICATE_BASE_URL=api.base_url, REPLICATE_API_TOKEN=replicate.KEY)
    model = ("--model", "replicate-kling-v2-1")
    return Running("replicate", api, [delivery], env, model, lambda: [replicate.KEY], True)


FAMILIES = {
    family.name: family
    for family in (
        Family("runway", _runway),
        Family("luma", _luma),
        Family("openai", _openai),
        Family("gemini", _gemini),
        Family("wavespeed", _wavespeed),
        Family("kling", _kling),
        Family("minimax", _minimax),
        Family("fal", _fal),
        Family("replicate", _replicate),
    )
}
