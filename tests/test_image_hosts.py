"""Image hosts: the s3 host against a real S3-compatible server (moto) on 127.0.0.1, data URLs, plugins."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from vmevalkit.models.api.image_hosts import DataUrlHost, ImageHostError, S3ImageHost, get_image_host
from vmevalkit.models.api.inputs import PreparedImage, prepare_image
from vmevalkit.settings import Settings

pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

BUCKET = "vmk-inputs"
URL_PROVIDER = SimpleNamespace(name="fakeprovider", accepts_data_url=False)
INLINE_PROVIDER = SimpleNamespace(name="inlineprovider", accepts_data_url=True)


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_url: str) -> str:
    """Fake credentials only, and no developer AWS config that could point anywhere else."""
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIDTESTING",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "VMEVALKIT_IMAGE_HOST": "s3",
        "VMEVALKIT_S3_BUCKET": BUCKET,
        "VMEVALKIT_S3_ENDPOINT_URL": s3_url,
        "VMEVALKIT_S3_URL_EXPIRY_S": "600",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client("s3", endpoint_url=s3_url)
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    return s3_url


@pytest.fixture
def image(tmp_path: Path) -> PreparedImage:
    src = tmp_path / "task.png"
    Image.new("RGB", (40, 30), (10, 200, 30)).save(src)
    return prepare_image(src, "1:1", short_side=64)


def put(host: object, image: PreparedImage, provider: object = URL_PROVIDER) -> str:
    return asyncio.run(host.put(image, provider))  # type: ignore[attr-defined]


def test_s3_host_uploads_and_returns_a_presigned_url_serving_the_exact_bytes(s3_env: str, image: PreparedImage) -> None:
    host = get_image_host(Settings())
    assert isinstance(host, S3ImageHost)
    url = put(host, image)
    parts = urlsplit(url)
    assert url.startswith(f"{s3_env}/{BUCKET}/vmevalkit-inputs/") and parts.path.endswith(".png")
    query = parse_qs(parts.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"], "presigned with SigV4, not the legacy SigV2"
    assert "X-Amz-Signature" in query
    response = httpx.get(url)  # no credentials: the URL alone grants access
    assert response.status_code == 200
    assert response.content == image.data
    assert response.headers["content-type"] == "image/png"


def test_s3_keys_are_unique_per_upload(s3_env: str, image: PreparedImage) -> None:
    host = get_image_host(Settings())
    urls = {put(host, image) for _ in range(3)}
    paths = {urlsplit(u).path for u in urls}
    assert len(paths) == 3, "the same image uploaded twice gets two keys: no overwrite races between jobs"
    digest_prefixes = {p.rsplit("/", 1)[-1].split("-")[0] for p in paths}
    assert len(digest_prefixes) == 1, "the key starts with the content digest"
    for url in urls:
        assert httpx.get(url).content == image.data


def test_s3_url_lifetime_follows_the_setting(
    s3_env: str, image: PreparedImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VMEVALKIT_S3_URL_EXPIRY_S", "120")
    monkeypatch.setenv("VMEVALKIT_S3_PREFIX", "run-7/")
    before = time.gmtime()
    url = put(get_image_host(Settings()), image)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["120"]
    signed_at = time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
    assert abs(time.mktime(signed_at) - time.mktime(before)) < 60
    assert urlsplit(url).path.startswith(f"/{BUCKET}/run-7/")


def test_s3_host_without_a_bucket_says_what_to_set(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VMEVALKIT_S3_BUCKET")
    with pytest.raises(ImageHostError, match="VMEVALKIT_IMAGE_HOST=s3 needs VMEVALKIT_S3_BUCKET"):
        get_image_host(Settings())


def test_data_url_host_inlines_the_image_where_the_provider_accepts_it(image: PreparedImage) -> None:
    host = get_image_host(Settings())  # the default
    assert isinstance(host, DataUrlHost)
    url = put(host, image, INLINE_PROVIDER)
    header, _, payload = url.partition(",")
    assert header == "data:image/png;base64"
    assert base64.b64decode(payload) == image.data


def test_data_url_host_refuses_a_provider_that_needs_a_real_url(image: PreparedImage) -> None:
    with pytest.raises(ImageHostError) as caught:
        put(DataUrlHost(Settings()), image, URL_PROVIDER)
    message = str(caught.value)
    assert "fakeprovider needs the input image at a public URL" in message
    assert "VMEVALKIT_IMAGE_HOST=s3" in message and "VMEVALKIT_S3_BUCKET" in message


def test_a_dotted_path_selects_a_plugin_host(monkeypatch: pytest.MonkeyPatch, image: PreparedImage) -> None:
    monkeypatch.setenv("VMEVALKIT_IMAGE_HOST", "vmk_test_hosts:StaticUrlHost")
    host = get_image_host(Settings())
    assert type(host).__name__ == "StaticUrlHost"
    assert put(host, image).startswith("https://images.example.test/")


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("vmevalkit.settings:Settings", ImageHostError, "is not an ImageHost class"),
        ("vmk_no_such_module:Host", ImageHostError, "cannot import module 'vmk_no_such_module'"),
        ("vmk_test_hosts:NoSuchHost", ImageHostError, "has no attribute 'NoSuchHost'"),
        ("dataurl", ImageHostError, "is neither data-url nor s3 nor a loadable 'module:Class'"),
    ],
)
def test_a_bad_image_host_value_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str, error: type[Exception], message: str
) -> None:
    monkeypatch.setenv("VMEVALKIT_IMAGE_HOST", value)
    with pytest.raises(error, match=message):
        get_image_host(Settings())
