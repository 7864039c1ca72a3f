"""Both catalogs are pure data in one schema, every entry resolves, the first shape is still read, and bad names or
fields fail clearly, for models and scorers alike."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from typing import Any

import pytest
from conftest import REPO, cli_env

from vmevalkit.models.base import ModelWrapper
from vmevalkit.runner import MODEL_CATALOG, SCORER_CATALOG
from vmevalkit.runner.registry import (
    CatalogEntry,
    ModelLoadError,
    ScorerCatalogError,
    UnknownModelError,
    UnknownScorerError,
    build_wrapper,
    get_entry,
    get_scorer_entry,
    load_service_class,
    load_wrapper_class,
    normalised,
)

CATALOG_FILES = [REPO / "vmevalkit" / "runner" / name for name in ("MODEL_CATALOG.py", "SCORER_CATALOG.py")]
HEAVY = ("torch", "numpy", "av", "PIL", "pydantic", "diffusers", "transformers", "httpx")
LOCAL_SCORER = "vmevalkit.scoring.local.wrapper:LocalScorer"


@pytest.mark.parametrize("path", CATALOG_FILES, ids=lambda p: p.name)
def test_catalog_source_is_pure_data(path: Any) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert [a.name for a in node.names] == ["typing"], ast.dump(node)
        if isinstance(node, ast.ImportFrom):
            assert node.module in ("typing", "__future__"), ast.dump(node)
        assert not isinstance(node, (ast.Call, ast.Lambda, ast.FunctionDef, ast.ClassDef)), (
            f"line {node.lineno}: the catalog must hold literals only"
        )


@pytest.mark.parametrize("path", CATALOG_FILES, ids=lambda p: p.name)
def test_defaults_come_first_so_an_entrys_own_fields_win(path: Any) -> None:
    """The documented merge rule: ``**X_DEFAULTS`` opens an entry, and what the entry writes after it wins."""
    merged = 0
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict) and None in node.keys:
            defaults = [v for k, v in zip(node.keys, node.values, strict=True) if k is None]
            if all(isinstance(v, ast.Name) and v.id.endswith(("_MODELS", "_SCORERS")) for v in defaults):
                continue  # AVAILABLE_MODELS / AVAILABLE_SCORERS: the families put together
            assert node.keys[0] is None and len(defaults) == 1, f"line {node.lineno}: '**' first, and only once"
            assert isinstance(defaults[0], ast.Name) and defaults[0].id.endswith("_DEFAULTS"), node.lineno
            merged += 1
    assert merged, "the catalog uses its defaults"


def test_catalog_import_pulls_in_nothing_heavy() -> None:
    code = (
        "import sys, json; import vmevalkit.runner.MODEL_CATALOG, vmevalkit.runner.SCORER_CATALOG; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=cli_env())
    loaded = set(json.loads(out.stdout))
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


@pytest.mark.parametrize("name", sorted(MODEL_CATALOG.AVAILABLE_MODELS))
def test_every_entry_resolves(name: str) -> None:
    entry = get_entry(name)
    assert entry.kind in ("builtin", "api", "local")
    assert issubclass(load_wrapper_class(entry), ModelWrapper)
    assert isinstance(load_service_class(entry), type)
    assert entry.description and entry.family


def test_providers_and_local_models_name_their_kinds_generic_wrapper() -> None:
    from vmevalkit.models.api.provider import ApiProvider

    for name in MODEL_CATALOG.AVAILABLE_MODELS:
        entry = get_entry(name)
        if entry.kind == "api":
            assert entry.wrapper == MODEL_CATALOG.API_WRAPPER == "vmevalkit.models.api.wrapper:ApiModelWrapper"
            assert issubclass(load_service_class(entry), ApiProvider), name
        elif entry.kind == "local":
            assert entry.wrapper == MODEL_CATALOG.LOCAL_WRAPPER == "vmevalkit.models.local.wrapper:LocalModelWrapper"


def test_an_entry_gets_its_familys_defaults() -> None:
    entry = get_entry("kling-v2-1-pro")
    assert entry.wrapper == MODEL_CATALOG.API_WRAPPER
    assert entry.service == "vmevalkit.models.providers.kling:KlingService"
    assert (entry.family, entry.kind) == ("kling", "api")
    assert entry.env_keys == ("KLING_ACCESS_KEY", "KLING_SECRET_KEY")
    assert entry.env_key_alternatives == (("KLING_API_KEY",),)
    assert entry.args == {"mode": "pro"}, "the entry's own fields stay its own"


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownModelError, match="did you mean: oracle-solution"):
        get_entry("oracle-solutoin")


# -- one extra catalog entry at a time ----------------------------------------------------------


@pytest.fixture
def extra(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Put one entry into the test plugin's extra model catalog; returns its validated entry (or raises)."""
    import vmk_test_models

    def put(**fields: Any) -> CatalogEntry:
        monkeypatch.setitem(vmk_test_models.MODELS, "test-extra", fields)
        return get_entry("test-extra")

    return put


STATIC = {
    "wrapper": "vmevalkit.models.baselines:StaticFirstFrameWrapper",
    "service": "vmevalkit.models.baselines:StaticFirstFrameService",
    "model": "static",
    "family": "tests",
    "kind": "builtin",
}


def test_an_extra_catalog_in_the_current_shape(extra: Any) -> None:
    entry = extra(**STATIC, description="new shape")
    assert (entry.wrapper, entry.service) == (STATIC["wrapper"], STATIC["service"])
    assert load_wrapper_class(entry).__name__ == "StaticFirstFrameWrapper"


def test_an_extra_catalog_may_use_a_familys_defaults_and_override_them(extra: Any) -> None:
    entry = extra(**{**MODEL_CATALOG.RUNWAY_DEFAULTS, "model": "gen9", "env_keys": ["MY_GATEWAY_KEY"]})
    assert entry.service == "vmevalkit.models.providers.runway:RunwayService" and entry.kind == "api"
    assert entry.env_keys == ("MY_GATEWAY_KEY",)


def test_the_first_shape_is_read_as_before(extra: Any) -> None:
    # A class name is looked up in wrapper_module; a full path is taken as it is.
    old = extra(
        wrapper_module="vmevalkit.models.baselines",
        wrapper_class="StaticFirstFrameWrapper",
        service_class="vmevalkit.models.baselines:StaticFirstFrameService",
        model="m",
        family="tests",
        kind="builtin",
    )
    assert old.wrapper == "vmevalkit.models.baselines:StaticFirstFrameWrapper"
    assert old.service == "vmevalkit.models.baselines:StaticFirstFrameService"
    # The test plugin's local model is written in the first shape and runs through every local worker test.
    local = get_entry("test-local")
    assert (local.wrapper, local.service) == (MODEL_CATALOG.LOCAL_WRAPPER, "vmk_test_local:ProbePipeline")
    old_scorer = {"service_class": "a.b:C", "role": "scorer", "kind": "api"}
    assert normalised(old_scorer) == {"service": "a.b:C", "kind": "api"}, "role was always 'scorer'"


def test_a_first_shape_service_may_live_in_another_module(extra: Any) -> None:
    fields = {"wrapper_module": "vmk_test_models", "wrapper_class": "ProbeWrapper", "model": "m", "family": "t"}
    entry = extra(**fields, kind="builtin", service_class="vmevalkit.models.baselines:StaticFirstFrameService")
    assert load_service_class(entry).__module__ == "vmevalkit.models.baselines"
    entry = extra(**fields, kind="builtin", service_class="StaticFirstFrameService")  # not in wrapper_module
    with pytest.raises(ModelLoadError, match="has no attribute 'StaticFirstFrameService'"):
        load_service_class(entry)


def test_mixing_the_two_shapes_is_refused(extra: Any) -> None:
    with pytest.raises(ModelLoadError, match="mixes the old field\\(s\\) service_class with 'wrapper'/'service'"):
        extra(**STATIC, service_class="vmk_test_local:RecordingLTX")


def test_an_unknown_field_is_named_with_the_close_one(extra: Any) -> None:
    with pytest.raises(ModelLoadError, match="'test-extra' is malformed: unknown field 'env_key' \\(did you mean"):
        extra(**STATIC, env_key=["KEY"])


def test_a_model_without_a_wrapper_is_told_which_to_name(extra: Any) -> None:
    fields = {k: v for k, v in STATIC.items() if k != "wrapper"}
    with pytest.raises(ModelLoadError, match="no 'wrapper': add 'wrapper': 'vmevalkit.models.api.wrapper:ApiModel"):
        extra(**fields)


def test_a_missing_field_and_a_bad_value_are_named(extra: Any) -> None:
    with pytest.raises(
        ModelLoadError, match="kind: Input should be 'builtin', 'api' or 'local'; missing field 'model'"
    ):
        extra(**{**{k: v for k, v in STATIC.items() if k != "model"}, "kind": "cloud"})


def test_a_broken_module_path_names_the_module(extra: Any) -> None:
    entry = extra(**{**STATIC, "wrapper": "vmevalkit.models.no_such_module:Wrapper"})
    with pytest.raises(ModelLoadError, match="model 'test-extra'.*vmevalkit.models.no_such_module"):
        load_wrapper_class(entry)


def test_a_misspelled_class_gets_a_suggestion(extra: Any) -> None:
    entry = extra(**{**STATIC, "wrapper": "vmevalkit.models.baselines:StaticFirstFrameWraper"})
    with pytest.raises(ModelLoadError, match="did you mean: StaticFirstFrameWrapper"):
        load_wrapper_class(entry)


def test_a_non_wrapper_class_is_refused(extra: Any) -> None:
    entry = extra(**{**STATIC, "wrapper": STATIC["service"]})
    with pytest.raises(ModelLoadError, match="is not a ModelWrapper subclass"):
        load_wrapper_class(entry)


def test_malformed_extra_catalog_entry_is_reported(extra: Any) -> None:
    with pytest.raises(ModelLoadError, match="catalog entry 'test-extra' is malformed"):
        extra(wrapper_module="x")


def test_extra_catalog_may_not_shadow_a_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    import vmk_test_models

    monkeypatch.setitem(vmk_test_models.MODELS, "oracle-solution", vmk_test_models.MODELS["test-probe"])
    with pytest.raises(ModelLoadError, match="redefines model"):
        get_entry("test-probe")


def test_build_wrapper_passes_args_to_the_service() -> None:
    wrapper = build_wrapper("static-first-frame", fps=5)
    assert wrapper.model == "static-first-frame"
    assert wrapper.service.fps == 5


# -- scorers: the same schema, the same registry ------------------------------------------------


@pytest.fixture
def scorers(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """An extra scorer catalog of the test's own (VMEVALKIT_EXTRA_SCORER_CATALOGS), empty until the test fills it."""
    import vmk_test_models

    catalog: dict[str, Any] = {}
    monkeypatch.setattr(vmk_test_models, "SCORERS", catalog, raising=False)
    monkeypatch.setenv("VMEVALKIT_EXTRA_SCORER_CATALOGS", "vmk_test_models:SCORERS")
    return catalog


def test_every_scorer_entry_is_valid_and_only_local_scorers_have_a_wrapper() -> None:
    for name in SCORER_CATALOG.AVAILABLE_SCORERS:
        entry = get_scorer_entry(name)
        assert entry.description and entry.family, name
        assert (entry.wrapper == LOCAL_SCORER) == (entry.kind == "local"), name
        assert entry.wrapper is not None or entry.kind in ("builtin", "api"), name


def test_unknown_scorer_suggests_close_names() -> None:
    close = "did you mean: frame-match, trajectory-match\\?"
    with pytest.raises(UnknownScorerError, match=f"unknown scorer 'frame-mach' \\({close}\\)"):
        get_scorer_entry("frame-mach")


def test_an_extra_scorer_in_the_current_shape_is_built_by_scoring(scorers: dict[str, Any]) -> None:
    from vmevalkit.scoring.runner import load_catalog_scorer

    scorers["test-duck"] = {
        "service": "vmk_test_scorers:DuckScorer",
        "args": {"scale": 3.0},
        "description": "in-process: the service is the scorer",
        "family": "tests",
        "kind": "builtin",
    }
    entry = get_scorer_entry("test-duck")
    assert entry.wrapper is None and entry.model == ""
    assert load_catalog_scorer("test-duck").scale == 3.0


def test_a_first_shape_scorer_catalog_is_read_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMEVALKIT_EXTRA_SCORER_CATALOGS", "vmk_test_local:SCORERS")
    entry = get_scorer_entry("test-local-scorer")
    assert (entry.wrapper, entry.service, entry.kind) == (LOCAL_SCORER, "vmk_test_local:ProbeScorer", "local")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"service": "x:Y", "family": "t", "kind": "builtin", "modle": "m"}, "unknown field 'modle' \\(did you mean"),
        ({"service": "x:Y", "family": "t"}, "missing field 'kind'"),
        ({"service_class": "x:Y", "family": "t", "kind": "builtin", "role": "judge"}, "unknown field 'role'"),
        ({"service": "x:Y", "wrapper_class": "a:B", "family": "t", "kind": "local"}, "mixes the old field"),
    ],
)
def test_a_malformed_scorer_entry_names_the_problem(
    scorers: dict[str, Any], fields: dict[str, Any], message: str
) -> None:
    scorers["test-bad"] = fields
    with pytest.raises(ScorerCatalogError, match=f"scorer catalog entry 'test-bad' is malformed: .*{message}"):
        get_scorer_entry("test-bad")


def test_an_extra_scorer_catalog_must_load_and_not_shadow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMEVALKIT_EXTRA_SCORER_CATALOGS", "vmk_test_models:NO_SUCH_NAME")
    with pytest.raises(ScorerCatalogError, match="extra scorer catalog 'vmk_test_models:NO_SUCH_NAME' cannot be"):
        get_scorer_entry("frame-match")
    import vmk_test_models

    from vmevalkit.settings import get_settings

    monkeypatch.setattr(vmk_test_models, "SCORERS", {"frame-match": {}}, raising=False)
    monkeypatch.setenv("VMEVALKIT_EXTRA_SCORER_CATALOGS", "vmk_test_models:SCORERS")
    get_settings.cache_clear()
    with pytest.raises(ScorerCatalogError, match="redefines scorer\\(s\\) frame-match"):
        get_scorer_entry("frame-match")


# -- listing imports no model or scoring code -----------------------------------------------------


@pytest.mark.parametrize(
    ("entry_point", "argv", "listed"),
    [
        ("generate_main", ["--help"], "--model"),
        ("generate_main", ["--list-models"], "static-first-frame"),
        ("main", ["score", "--list-scorers"], "frame-match"),
    ],
)
def test_help_and_listing_import_no_model_or_scoring_code(entry_point: str, argv: list[str], listed: str) -> None:
    code = (
        "import sys, json\n"
        f"from vmevalkit.cli.main import {entry_point}\n"
        "try:\n    " + entry_point + "(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('MODULES=' + json.dumps(sorted(sys.modules)))\n"
    )
    env = cli_env()
    del env["VMEVALKIT_EXTRA_CATALOGS"]  # the test plugins import model code on purpose
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, check=True)
    assert listed in out.stdout
    loaded = set(json.loads(out.stdout.split("MODULES=")[1]))
    assert "torch" not in loaded and "av" not in loaded and "numpy" not in loaded
    # Knowing whether a local model is installed (venv, verified weights) is not model code, nor is the schema of
    # the catalog's constraints.
    install_state = {
        "vmevalkit.models",
        "vmevalkit.models.constraints",
        "vmevalkit.workers",
        "vmevalkit.workers.installation",
        "vmevalkit.workers.weights",
    }
    assert not {
        m
        for m in loaded - install_state
        if m.startswith(("vmevalkit.models", "vmevalkit.video", "vmevalkit.runner.inference", "vmevalkit.scoring."))
    }


def test_retirement_is_told_before_the_key_with_the_gateway_that_still_serves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vmevalkit.cli.generate import why_not
    from vmevalkit.runner.registry import retirement
    from vmevalkit.settings import get_settings

    for key in ("RUNWAYML_API_SECRET", "RUNWAYML_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    get_settings.cache_clear()
    retired = get_entry("runway-gen3a-turbo")
    message = retirement(retired)
    assert message is not None and "is retired by its provider" in message
    assert "can be used by setting RUNWAYML_BASE_URL" in message
    assert why_not(retired, None, {}, get_settings()) == ("retired", message), "retired, not 'no key'"
    assert why_not(get_entry("runway-gen4-turbo"), None, {}, get_settings())[0] == "no key"  # type: ignore[index]
    assert retirement(get_entry("runway-gen4-turbo")) is None
    monkeypatch.setenv("RUNWAYML_BASE_URL", "http://127.0.0.1:9")  # a gateway that still serves it
    get_settings.cache_clear()
    assert retirement(retired) is None


def test_no_description_repeats_what_the_retired_column_says() -> None:
    for name, entry in MODEL_CATALOG.AVAILABLE_MODELS.items():
        if entry.get("retired"):
            assert "retired" not in entry.get("description", "").lower(), name
