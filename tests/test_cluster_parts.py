"""The ray engine's parts that need no cluster: sizing actors from what nodes offer, the errors that name the fix,
files across nodes, and the settings an actor gets (never a key). The engine itself: tests/test_ray_engine.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vmevalkit.cluster.files import BundleError, pack, pack_folder, unpack
from vmevalkit.cluster.session import (
    GPU_MEMORY_RESOURCE,
    NodeOffer,
    actor_env,
    apply_actor_env,
    cpu_actor_shape,
    gpu_actor_shape,
    no_fit_message,
    unreachable,
)
from vmevalkit.settings import Settings


def node(cpus: float = 8, gpus: float = 0, memory: float | None = None, address: str = "10.0.0.1") -> NodeOffer:
    return NodeOffer(node_id="n" + address, address=address, cpus=cpus, gpus=gpus, gpu_memory_gb=memory)


def test_gpu_actors_fit_by_gpu_count_and_by_declared_gpu_memory() -> None:
    # 8 x 80 GB and 4 x 24 GB: a 40 GB model fits 8 times on the first, not on the second.
    nodes = [node(gpus=8, memory=640, address="a"), node(gpus=4, memory=96, address="b")]
    shape = gpu_actor_shape(nodes, 40)
    assert shape.fits == 8 + 2 and shape.resources == {GPU_MEMORY_RESOURCE: 40.0} and shape.num_gpus == 1
    assert gpu_actor_shape(nodes, 24).fits == 8 + 4
    assert shape.options()["scheduling_strategy"] == "SPREAD"  # every machine works
    # No node declares GPU memory: placed by GPU count alone, asking for none of it.
    plain = gpu_actor_shape([node(gpus=2), node(gpus=3)], 40)
    assert plain.fits == 5 and plain.resources == {}
    assert cpu_actor_shape([node(cpus=4), node(cpus=2.5)]).fits == 6


def test_a_model_no_node_can_hold_is_refused_with_what_each_node_offers_and_the_fix() -> None:
    nodes = [node(gpus=4, memory=64, address="10.0.0.7")]
    shape = gpu_actor_shape(nodes, 80)
    assert shape.fits == 0
    message = no_fit_message("model 'wan-2.2-i2v-a14b'", shape, nodes)
    assert "1 GPU and 80 vmevalkit_gpu_memory_gb" in message and "10.0.0.7: 8 CPU, 4 GPU, 64" in message
    assert "ray start --num-gpus N --resources" in message


def test_an_address_where_nothing_listens_is_named_at_once() -> None:
    assert unreachable("127.0.0.1:9", timeout=2) is not None
    assert "HOST:PORT" in (unreachable("no-port") or "")


def test_bundles_carry_files_and_never_write_outside_their_folder(tmp_path: Path) -> None:
    task = tmp_path / "task"
    task.mkdir()
    (task / "first_frame.png").write_bytes(b"png")
    (task / "prompt.txt").write_text("solve")
    bundle = {**pack(tmp_path, ["task/prompt.txt", "task/missing.txt"]), **pack_folder(task, "copy")}
    assert bundle == {"task/prompt.txt": b"solve", "copy/first_frame.png": b"png", "copy/prompt.txt": b"solve"}
    unpack(bundle, tmp_path / "node")
    assert (tmp_path / "node" / "copy" / "first_frame.png").read_bytes() == b"png"
    for bad in ("../escape.txt", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(BundleError):
            unpack({bad: b"x"}, tmp_path / "node")
    assert not (tmp_path / "escape.txt").exists()


def test_actors_get_the_drivers_settings_with_absolute_paths_and_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNWAYML_API_SECRET", "key_live_abcdefghijklmnop")
    settings = Settings(
        _env_file=None, envs_dir=Path("envs"), checkpoints={"ltx-video": Path("w/ltx")}, engine="ray", ray_actors=3
    )
    env = actor_env(settings)
    assert env["VMEVALKIT_ENVS_DIR"] == str(tmp_path / "envs")  # the test runs in tmp_path: made absolute
    assert json.loads(env["VMEVALKIT_CHECKPOINTS"]) == {"ltx-video": str(tmp_path / "w" / "ltx")}
    assert env["VMEVALKIT_ENGINE"] == "local"  # an actor runs the work itself
    assert "VMEVALKIT_RAY_ACTORS" not in env and "VMEVALKIT_OUTPUT_DIR" not in env  # the driver's alone
    assert not any("key_live" in value for value in env.values())
    # A node that says where its own venvs are keeps them; everything else is the driver's.
    for key in [*env, "VMEVALKIT_LOCAL_GPUS"]:  # undone after the test: apply_actor_env writes os.environ
        monkeypatch.setenv(key, "unset")
        monkeypatch.delenv(key)
    monkeypatch.setenv("VMEVALKIT_ENVS_DIR", "/opt/node-envs")
    apply_actor_env(env, local_gpus="cpu")
    from vmevalkit.settings import get_settings

    node_settings = get_settings()
    assert node_settings.envs_dir == Path("/opt/node-envs") and node_settings.local_gpus == "cpu"
    assert node_settings.checkpoints == {"ltx-video": tmp_path / "w" / "ltx"}


def test_on_the_ray_engine_api_models_stay_on_the_driver_and_the_rest_go_to_the_cluster() -> None:
    """Only the driver submits to providers: its per-provider limit and budget hold for the whole cluster."""
    from vmevalkit.models.api.executor import ApiExecutor
    from vmevalkit.runner.executors import executor_for
    from vmevalkit.runner.ray_engine import RayExecutor
    from vmevalkit.runner.registry import get_entry

    ray_engine = Settings(_env_file=None, engine="ray")
    assert type(executor_for(get_entry("runway-gen4-turbo"), ray_engine)) is ApiExecutor
    ray_executor = executor_for(get_entry("oracle-solution"), ray_engine)
    assert isinstance(ray_executor, RayExecutor) and ray_executor.requires_ground_truth
    assert not ray_executor.works_here  # bounded by its actors, not by VMEVALKIT_MAX_CONCURRENCY
    assert executor_for(get_entry("oracle-solution"), Settings(_env_file=None)).works_here
