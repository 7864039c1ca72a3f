"""Image hosts that exist only for tests, selected with ``VMEVALKIT_IMAGE_HOST=vmk_test_hosts:Name``.

They are loaded by the real ``get_image_host`` in CLI subprocesses (tests/plugins
is on their PYTHONPATH), so a provider that needs an image URL can be tested end
to end against fake servers on 127.0.0.1:

  FakeBucketHost  PUTs the image to ``$VMK_FAKE_BUCKET_URL/bucket/<key>`` (a fake
                  bucket server) and returns that URL, which serves the bytes back
  StaticUrlHost   uploads nothing and returns a made-up URL (for unit tests)
"""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

import httpx

from vmevalkit.models.api.image_hosts import ImageHost, ImageHostError
from vmevalkit.models.api.inputs import PreparedImage


def _key(image: PreparedImage) -> str:
    # Like the s3 host: content digest plus a random part, so two uploads never share a key.
    digest = hashlib.sha256(image.data).hexdigest()[:16]
    return f"{digest}-{uuid.uuid4().hex[:8]}.{image.mime_type.split('/')[-1]}"


class FakeBucketHost(ImageHost):
    async def put(self, image: PreparedImage, provider: Any) -> str:
        base = os.environ.get("VMK_FAKE_BUCKET_URL")
        if not base:
            raise ImageHostError("FakeBucketHost needs VMK_FAKE_BUCKET_URL")
        url = f"{base.rstrip('/')}/bucket/{_key(image)}"
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.put(url, content=image.data, headers={"Content-Type": image.mime_type})
        if response.status_code >= 400:
            raise ImageHostError(f"fake bucket refused the upload: HTTP {response.status_code}")
        return url


class StaticUrlHost(ImageHost):
    async def put(self, image: PreparedImage, provider: Any) -> str:
        return f"https://images.example.test/{_key(image)}"
