"""The catalog is pure data, every entry resolves, and bad names fail clearly."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
from conftest import REPO, cli_env

from vmevalkit.models.base import ModelWrapper
from vmevalkit.runner import MODEL_CATALOG
from vmevalkit.runner.registry import (
    CatalogEntry,
    ModelLoadError,
    UnknownModelError,
    build_wrapper,
    get_entry,
    load_service_class,
    load_wrapper_class,
)

CATALOG_FILE = REPO / "vmevalkit" / "runner" / "MODEL_CATALOG.py"
HEAVY = ("torch", "numpy", "av", "PIL", "pydantic", "diffusers", "transformers", "httpx")


def test_catalog_source_is_pure_data() -> None:
    tree = ast.parse(CATALOG_FILE.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert [a.name for a in node.names] == ["typing"], ast.dump(node)
        if isinstance(node, ast.ImportFrom):
            assert node.module in ("typing", "__future__"), ast.dump(node)
        assert not isinstance(node, (ast.Call, ast.Lambda, ast.FunctionDef, ast.ClassDef)), (
            f"line {node.lineno}: the catalog must hold literals only"
        )


def test_catalog_import_pulls_in_nothing_heavy() -> None:
    code = "import sys, json; import vmevalkit.runner.MODEL_CATALOG; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=cli_env())
    loaded = set(json.loads(out.stdout))
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


@pytest.mark.parametrize("name", sorted(MODEL_CATALOG.AVAILABLE_MODELS))
def test_every_entry_resolves(name: str) -> None:
    entry = get_entry(name)
    assert entry.kind in ("builtin", "api", "local")
    assert name in MODEL_CATALOG.MODEL_FAMILIES[entry.family]
    assert issubclass(load_wrapper_class(entry), ModelWrapper)
    assert isinstance(load_service_class(entry), type)
    assert entry.description


def test_families_and_available_models_agree() -> None:
    from_families = {n: e for fam in MODEL_CATALOG.MODEL_FAMILIES.values() for n, e in fam.items()}
    assert from_families == MODEL_CATALOG.AVAILABLE_MODELS
    counts = [len(fam) for fam in MODEL_CATALOG.MODEL_FAMILIES.values()]
    assert sum(counts) == len(MODEL_CATALOG.AVAILABLE_MODELS), "a model name appears in two families"


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownModelError, match="did you mean: oracle-solution"):
        get_entry("oracle-solutoin")


def _entry(**overrides: str) -> CatalogEntry:
    fields = {**MODEL_CATALOG.AVAILABLE_MODELS["static-first-frame"], **overrides}
    return CatalogEntry(name="broken", **fields)


def test_broken_module_path_names_the_module() -> None:
    with pytest.raises(ModelLoadError, match="model 'broken'.*vmevalkit.models.no_such_module"):
        load_wrapper_class(_entry(wrapper_module="vmevalkit.models.no_such_module"))


def test_misspelled_class_gets_a_suggestion() -> None:
    with pytest.raises(ModelLoadError, match="did you mean: StaticFirstFrameWrapper"):
        load_wrapper_class(_entry(wrapper_class="StaticFirstFrameWraper"))


def test_service_class_may_live_in_another_module() -> None:
    entry = _entry(
        wrapper_module="vmk_test_models",
        wrapper_class="ProbeWrapper",
        service_class="vmevalkit.models.baselines:StaticFirstFrameService",
    )
    assert load_service_class(entry).__module__ == "vmevalkit.models.baselines"
    with pytest.raises(ModelLoadError, match="has no attribute 'StaticFirstFrameService'"):
        load_service_class(_entry(wrapper_module="vmk_test_models", wrapper_class="ProbeWrapper"))


def test_a_non_wrapper_class_is_refused() -> None:
    with pytest.raises(ModelLoadError, match="not a ModelWrapper subclass"):
        load_wrapper_class(_entry(wrapper_class="StaticFirstFrameService"))


def test_malformed_extra_catalog_entry_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import vmk_test_models

    monkeypatch.setitem(vmk_test_models.MODELS, "test-malformed", {"wrapper_module": "x"})
    with pytest.raises(ModelLoadError, match="catalog entry 'test-malformed' is malformed"):
        get_entry("test-malformed")


def test_extra_catalog_may_not_shadow_a_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    import vmk_test_models

    monkeypatch.setitem(vmk_test_models.MODELS, "oracle-solution", vmk_test_models.MODELS["test-probe"])
    with pytest.raises(ModelLoadError, match="redefines model"):
        get_entry("test-probe")


def test_build_wrapper_passes_args_to_the_service() -> None:
    wrapper = build_wrapper("static-first-frame", fps=5)
    assert wrapper.model == "static-first-frame"
    assert wrapper.service.fps == 5


@pytest.mark.parametrize("argv", [["--help"], ["--list-models"]])
def test_help_and_list_models_import_no_model_code(argv: list[str]) -> None:
    code = (
        "import sys, json\n"
        "from vmevalkit.cli.main import generate_main\n"
        "try:\n    generate_main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('MODULES=' + json.dumps(sorted(sys.modules)))\n"
    )
    env = cli_env()
    del env["VMEVALKIT_EXTRA_CATALOGS"]  # the test plugins import model code on purpose
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, check=True)
    assert "static-first-frame" in out.stdout or "--model" in out.stdout
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
        if m.startswith(("vmevalkit.models", "vmevalkit.video", "vmevalkit.runner.inference"))
    }
