"""Getting an input image to a provider that wants a URL instead of the bytes.

Chosen by ``VMEVALKIT_IMAGE_HOST``: ``data-url`` (inline ``data:`` URL, for
APIs that accept one), ``s3`` (any S3-compatible store through boto3, unique
keys, short-lived presigned URLs), or ``package.module:Class`` for your own.
A presigned URL is a credential: it is never logged or written to metadata.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from abc import ABC, abstractmethod
from typing import Any

from vmevalkit.models.api.inputs import PreparedImage
from vmevalkit.settings import Settings
from vmevalkit.utils.http import ApiError
from vmevalkit.utils.imports import load_object


class ImageHostError(ApiError):
    """The image could not be made reachable by URL; the message says how to configure a host."""


class ImageHost(ABC):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    async def put(self, image: PreparedImage, provider: Any) -> str:
        """Make ``image`` reachable and return its URL."""


class DataUrlHost(ImageHost):
    """No upload at all: the image travels inline as a ``data:`` URL."""

    async def put(self, image: PreparedImage, provider: Any) -> str:
        if not getattr(provider, "accepts_data_url", True):
            raise ImageHostError(
                f"{provider.name} needs the input image at a public URL: set VMEVALKIT_IMAGE_HOST=s3 and "
                "VMEVALKIT_S3_BUCKET (plus AWS credentials) in .env, or name your own host class"
            )
        return image.data_url()


class S3ImageHost(ImageHost):
    """Uploads to an S3-compatible bucket under a unique key and returns a presigned GET URL."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        if not settings.s3_bucket:
            raise ImageHostError("VMEVALKIT_IMAGE_HOST=s3 needs VMEVALKIT_S3_BUCKET")
        try:
            import boto3  # optional: pip install "vmevalkit[s3]"
            from botocore.config import Config
        except ImportError:
            raise ImageHostError('the s3 image host needs boto3: pip install "vmevalkit[s3]"') from None
        # Presign with SigV4: boto3's default for us-east-1 is still the legacy SigV2 query string,
        # which newer AWS regions and S3-compatible stores (R2, recent MinIO) reject.
        self._client = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url or None, config=Config(signature_version="s3v4")
        )

    def key_for(self, image: PreparedImage) -> str:
        digest = hashlib.sha256(image.data).hexdigest()[:16]
        extension = image.mime_type.split("/")[-1]
        return f"{self.settings.s3_prefix}{digest}-{uuid.uuid4().hex[:8]}.{extension}"

    async def put(self, image: PreparedImage, provider: Any) -> str:
        key = self.key_for(image)
        bucket = self.settings.s3_bucket

        def upload() -> str:
            self._client.put_object(Bucket=bucket, Key=key, Body=image.data, ContentType=image.mime_type)
            url: str = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=self.settings.s3_url_expiry_s
            )
            return url

        return await asyncio.to_thread(upload)  # boto3 is synchronous


HOSTS: dict[str, type[ImageHost]] = {"data-url": DataUrlHost, "s3": S3ImageHost}


def get_image_host(settings: Settings) -> ImageHost:
    name = settings.image_host
    try:
        cls = HOSTS.get(name) or load_object(name)
    except ImportError as exc:
        raise ImageHostError(
            f"VMEVALKIT_IMAGE_HOST={name!r} is neither {' nor '.join(HOSTS)} nor a loadable 'module:Class' ({exc})"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, ImageHost)):
        raise ImageHostError(f"VMEVALKIT_IMAGE_HOST={name!r} is not an ImageHost class")
    return cls(settings)
