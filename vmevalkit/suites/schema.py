"""The suite file: datasets, models, scorers and criteria in one TOML or JSON file (docs/SUITES.md).

Validated by pydantic models that forbid unknown fields, then by the checks that span fields (a metric's scorer is
in ``[[scorers]]``, an expression names other criteria without a cycle, names are unique). Every problem becomes
one line of a ``SuiteError`` that names the file, the field's path and the fix::

    quick.toml: criteria[1].goal: 'maximum' is not one of max, min, target

The ``content_hash`` of a loaded suite is the sha256 of its validated content as canonical JSON, so the same suite
written as TOML or as JSON (or with a default spelled out) hashes alike: two labs compare hashes to know they ran
the same benchmark.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vmevalkit.suites.expr import FUNCTIONS, Expr, ExprError, parse
from vmevalkit.tasks import DOMAINS
from vmevalkit.utils.imports import suggest

__all__ = [
    "Bootstrap",
    "Criterion",
    "Dataset",
    "GeneratedDataset",
    "HubDataset",
    "ImportDataset",
    "LoadedSuite",
    "LocalDataset",
    "ModelSpec",
    "ScorerSpec",
    "Suite",
    "SuiteError",
    "load_suite",
    "suite_from_data",
]

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # as the catalogs' names: a folder and a file name
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # criteria: names an expression can read
HEX40 = re.compile(r"[0-9a-fA-F]{40}")
HEX64 = re.compile(r"[0-9a-fA-F]{64}")
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
CLASS_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*")
IMPORT_FORMATS = ("vmevalkit", "vbvr-datafactory", "vbvr-bench")  # vmevalkit.tasks.importers.FORMATS
DIFFICULTIES = ("easy", "medium", "hard")  # vmevalkit.tasks.base.DIFFICULTIES


class SuiteError(ValueError):
    """A suite that cannot be used: one line per problem, each naming the file, the field's path and the fix."""

    def __init__(self, problems: str | list[str]) -> None:
        # One message (as other modules raise it) or the loader's list of lines.
        lines = problems.splitlines() if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(lines))
        self.problems = lines


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _safe(value: str, what: str) -> str:
    if not SAFE_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a safe {what}: use letters, digits, '.', '_' or '-' (not first)")
    return value


def _relative(value: str, what: str) -> str:
    """A path inside a folder: no absolute path, no '..', no backslash (the same on every OS)."""
    parts = PurePosixPath(value).parts
    if not value or "\\" in value or value.startswith("/") or ".." in parts:
        raise ValueError(f"{value!r} is not a relative {what} inside the repository (no '/' first, no '..')")
    return value


# -- datasets -----------------------------------------------------------------------------------------------------


class GeneratedDataset(_Strict):
    """Tasks made by our domains (``vmevalkit.tasks.writer.build_dataset``): ``count`` per domain from ``seed``."""

    kind: Literal["generated"]
    domains: list[str] | Literal["all"] = "all"
    count: int = Field(4, ge=1)
    seed: int = 0
    difficulty: str | None = None

    @field_validator("domains", mode="before")
    @classmethod
    def _domains(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value != "all":
                raise ValueError(f'write a list of domains or "all", not {value!r}')
            return value
        if isinstance(value, list):
            if not value:
                raise ValueError('an empty list: name some domains, or write "all"')
            for name in value:
                if isinstance(name, str) and name not in DOMAINS:
                    raise ValueError(
                        f"{name!r} is not a domain{suggest(name, DOMAINS)}; the domains: {', '.join(DOMAINS)}"
                    )
            if len(set(map(str, value))) != len(value):
                raise ValueError("a domain is named twice")
        return value

    @field_validator("difficulty")
    @classmethod
    def _difficulty(cls, value: str | None) -> str | None:
        if value is not None and value not in DIFFICULTIES:
            raise ValueError(f"{value!r} is not one of {', '.join(DIFFICULTIES)}")
        return value

    def domain_list(self) -> list[str]:
        return list(DOMAINS) if self.domains == "all" else list(self.domains)


class LocalDataset(_Strict):
    """A questions folder in our layout; ``path`` is relative to the suite file (or absolute)."""

    kind: Literal["local"]
    path: str = Field(min_length=1)
    domains: list[str] | None = None
    limit_per_domain: int | None = Field(None, ge=1)


class HubDataset(_Strict):
    """A Hugging Face dataset repository at a pinned commit (a branch can move; a commit cannot)."""

    kind: Literal["hub"]
    repo: str
    revision: str
    subdir: str | None = None
    format: Literal["vmevalkit", "vbvr-datafactory", "vbvr-bench"] | None = None
    sha256: dict[str, str] = Field(default_factory=dict)

    @field_validator("repo")
    @classmethod
    def _repo(cls, value: str) -> str:
        if not REPO_ID.fullmatch(value):
            raise ValueError(f'{value!r} is not a repository id: write "owner/name"')
        return value

    @field_validator("revision")
    @classmethod
    def _revision(cls, value: str) -> str:
        if not HEX40.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a commit: pin the 40-hex commit id (a branch or tag can move), e.g. from "
                "`huggingface_hub.HfApi().dataset_info(repo).sha`"
            )
        return value.lower()

    @field_validator("subdir")
    @classmethod
    def _subdir(cls, value: str | None) -> str | None:
        return None if value is None else _relative(value, "folder")

    @field_validator("sha256")
    @classmethod
    def _pins(cls, value: dict[str, str]) -> dict[str, str]:
        for name, digest in value.items():
            _relative(name, "file")
            if not HEX64.fullmatch(digest):
                raise ValueError(f"{name!r}: {digest!r} is not a sha256 (64 hex digits)")
        return {name: digest.lower() for name, digest in value.items()}


class ImportDataset(_Strict):
    """A local folder in a format ``vmevalkit tasks import`` reads."""

    kind: Literal["import"]
    format: Literal["vmevalkit", "vbvr-datafactory", "vbvr-bench"]
    path: str = Field(min_length=1)


Dataset = Annotated[
    Union[GeneratedDataset, LocalDataset, HubDataset, ImportDataset],  # noqa: UP007 (a discriminated union)
    Field(discriminator="kind"),
]
DATASET_KINDS: dict[str, type[BaseModel]] = {
    "generated": GeneratedDataset,
    "local": LocalDataset,
    "hub": HubDataset,
    "import": ImportDataset,
}


# -- models and scorers -------------------------------------------------------------------------------------------


class ModelSpec(_Strict):
    """A catalog model with its ``--param``s and seeds: ``samples`` seeds from ``seed``, or a list ``seeds``."""

    name: str
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    seed: int = 42
    samples: int = Field(1, ge=1)
    seeds: list[int] | None = Field(None, min_length=1)
    checkpoint: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _safe(value, "model name")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("a seed is listed twice (each seed is one sample)")
        return value

    @property
    def seed_list(self) -> list[int]:
        """The seeds of its samples, one generation per task each."""
        return list(self.seeds) if self.seeds is not None else list(range(self.seed, self.seed + self.samples))


class ScorerSpec(_Strict):
    """A catalog scorer by ``name``, or a plug-in by ``class_path`` (then ``name`` is what its score files are
    called: by default the class path with '.' for ':', as ``vmevalkit score --scorer-class-path`` names them)."""

    name: str
    class_path: str | None = None
    init_kwargs: dict[str, Any] = Field(default_factory=dict)
    score_kwargs: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" not in data and isinstance(data.get("class_path"), str):
            return {**data, "name": data["class_path"].replace(":", ".")}
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _safe(value, "scorer name")

    @field_validator("class_path")
    @classmethod
    def _class_path(cls, value: str | None) -> str | None:
        if value is not None and not CLASS_PATH.fullmatch(value):
            raise ValueError(f'{value!r} is not a class path: write "package.module:Class"')
        return value


# -- criteria -----------------------------------------------------------------------------------------------------


class Criterion(_Strict):
    """A metric (a scorer dimension aggregated over a model's items) or an expression over other criteria, with
    a goal, a weight and an optional pass threshold. The checks that span fields are the suite's (they name the
    field's path)."""

    name: str
    metric: str | None = None
    expr: str | None = None
    aggregate: Literal["mean", "success_rate"] = "mean"
    success_at: float = 1.0
    domain: str | None = None
    category: str | None = None
    goal: Literal["max", "min", "target"] = "max"
    weight: float = Field(1.0, ge=0, allow_inf_nan=False)
    threshold: float | None = Field(None, allow_inf_nan=False)
    target: float | None = Field(None, allow_inf_nan=False)
    tolerance: float | None = Field(None, ge=0, allow_inf_nan=False)
    range: tuple[float, float] = (0.0, 1.0)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not IDENTIFIER.fullmatch(value):
            raise ValueError(f"{value!r} is not an identifier: letters, digits and '_', not a digit first")
        if value in FUNCTIONS:
            raise ValueError(f"{value!r} is a function of expressions ({', '.join(FUNCTIONS)}): choose another name")
        return value

    @field_validator("expr")
    @classmethod
    def _expr(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse(value)
            except ExprError as exc:
                raise ValueError(f"{exc.message} at column {exc.column} of {value!r}") from None
        return value

    @field_validator("range")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        lo, hi = value
        if not lo < hi or not all(abs(v) < float("inf") for v in value):
            raise ValueError(f"[{lo}, {hi}] is not a range: write [low, high] with low < high")
        return value

    @property
    def parsed(self) -> Expr | None:
        """The parsed expression (None for a metric)."""
        return None if self.expr is None else parse(self.expr)


class Bootstrap(_Strict):
    """The bootstrap of the composite's confidence interval (tasks resampled with replacement)."""

    samples: int = Field(1000, ge=1)
    seed: int = 0
    confidence: float = Field(0.95, gt=0, lt=1)


# -- the suite ----------------------------------------------------------------------------------------------------


class Suite(_Strict):
    name: str
    version: str = "1"
    description: str = ""
    experiment: str | None = None
    duration: float | None = Field(None, gt=0, allow_inf_nan=False)
    datasets: list[Dataset] = Field(min_length=1)
    models: list[ModelSpec] = Field(min_length=1)
    scorers: list[ScorerSpec] = Field(min_length=1)
    criteria: list[Criterion] = Field(min_length=1)
    bootstrap: Bootstrap = Field(default_factory=lambda: Bootstrap.model_validate({}))

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _safe(value, "suite name")

    @field_validator("experiment")
    @classmethod
    def _experiment(cls, value: str | None) -> str | None:
        return None if value is None else _safe(value, "experiment name")

    @model_validator(mode="after")
    def _cross_checks(self) -> Suite:
        problems = _problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def experiment_name(self) -> str:
        """The experiment folder under the output directory."""
        return self.experiment or f"suite-{self.name}"

    def criterion(self, name: str) -> Criterion:
        return next(c for c in self.criteria if c.name == name)

    def split_metric(self, metric: str) -> tuple[str, str] | None:
        """``"<scorer>.<dimension>"`` as (scorer, dimension), the scorer one of ``scorers`` (the longest that
        fits: scorer names may hold dots); None when none fits."""
        fits = [s.name for s in self.scorers if metric.startswith(s.name + ".") and len(metric) > len(s.name) + 1]
        if not fits:
            return None
        scorer = max(fits, key=len)
        return scorer, metric[len(scorer) + 1 :]


_CROSS = "\x00"  # marks a cross-field problem line: "<path>\x00<message>"


def _problems(suite: Suite) -> list[str]:
    """The checks that span fields, each as "<path>\\x00<message>" (the loader adds the file's name)."""
    out: list[str] = []

    def problem(path: str, message: str) -> None:
        out.append(f"{path}{_CROSS}{message}")

    def duplicates(kind: str, names: list[str]) -> None:
        first: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in first:
                problem(f"{kind}[{i}].name", f"{name!r} is already the name of {kind}[{first[name]}]; names are unique")
            else:
                first[name] = i

    duplicates("models", [m.name for m in suite.models])
    duplicates("scorers", [s.name for s in suite.scorers])
    duplicates("criteria", [c.name for c in suite.criteria])
    for i, model in enumerate(suite.models):
        if model.seeds is not None and {"seed", "samples"} & model.model_fields_set:
            problem(f"models[{i}].seeds", "give `seeds = [...]` or `seed` and `samples`, not both")

    names = [c.name for c in suite.criteria]
    scorer_names = [s.name for s in suite.scorers]
    for i, c in enumerate(suite.criteria):
        at = f"criteria[{i}]"
        given = c.model_fields_set
        if (c.metric is None) == (c.expr is None):
            which = "both `metric` and `expr` given" if c.metric is not None else "neither `metric` nor `expr` given"
            problem(at, f'{which}: give one, metric = "<scorer>.<dimension>" or expr = "a - b"')
        elif c.metric is not None:
            if "." not in c.metric.strip("."):
                problem(
                    f"{at}.metric", f'{c.metric!r}: write "<scorer>.<dimension>", e.g. "task-verifier.task_success"'
                )
            elif suite.split_metric(c.metric) is None:
                scorer = c.metric.rsplit(".", 1)[0]
                problem(
                    f"{at}.metric",
                    f"scorer {scorer!r} is not in [[scorers]]{suggest(scorer, scorer_names)}; "
                    f"add it there, or use one of: {', '.join(scorer_names)}",
                )
        else:
            for field in ("aggregate", "success_at", "domain", "category"):
                if field in given:
                    problem(f"{at}.{field}", "applies to metric criteria; an expression reads other criteria's values")
            parsed = c.parsed
            for name in sorted(parsed.names if parsed is not None else ()):
                if name not in names:
                    problem(
                        f"{at}.expr", f"{name!r} is not a criterion{suggest(name, names)}; criteria: {', '.join(names)}"
                    )
        if "success_at" in given and c.aggregate != "success_rate":
            problem(f"{at}.success_at", 'applies to aggregate = "success_rate" only')
        if c.domain is not None and c.category is not None:
            problem(f"{at}.category", "give `domain` or `category`, not both")
        if c.goal == "target":
            for field in ("target", "tolerance"):
                if getattr(c, field) is None:
                    problem(
                        f"{at}.{field}",
                        f"a target goal needs `{field} = <number>` (passes when |value - target| <= tolerance)",
                    )
            if c.threshold is not None:
                problem(f"{at}.threshold", "a target goal passes by its tolerance; drop `threshold`")
        else:
            for field in ("target", "tolerance"):
                if getattr(c, field) is not None:
                    problem(f"{at}.{field}", f'applies to goal = "target" only (this goal is {c.goal!r})')
    out.extend(f"{p}{_CROSS}{m}" for p, m in _cycles(suite))
    return out


def _cycles(suite: Suite) -> list[tuple[str, str]]:
    """Expression criteria that read themselves, directly or through others: each cycle once, at its first member."""
    index = {c.name: i for i, c in enumerate(suite.criteria)}
    reads = {c.name: sorted(n for n in (c.parsed.names if c.parsed else ()) if n in index) for c in suite.criteria}
    found: list[tuple[str, str]] = []
    seen_cycles: set[frozenset[str]] = set()
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            cycle = stack[stack.index(name) :] + [name]
            key = frozenset(cycle)
            if key not in seen_cycles:
                seen_cycles.add(key)
                first = min(cycle[:-1], key=index.__getitem__)
                start = cycle.index(first)
                ordered = cycle[start:-1] + cycle[:start] + [first]
                found.append((f"criteria[{index[first]}].expr", f"a cycle: {' -> '.join(ordered)}"))
            return
        if name in done:
            return
        for nxt in reads[name]:
            visit(nxt, [*stack, name])
        done.add(name)

    for c in suite.criteria:
        visit(c.name, [])
    return found


# -- errors -------------------------------------------------------------------------------------------------------

_MISSING = {
    "name": "give it a name",
    "datasets": "add at least one [[datasets]] table",
    "models": "add at least one [[models]] table (a catalog name: vmevalkit models)",
    "scorers": "add at least one [[scorers]] table (vmevalkit score --list-scorers)",
    "criteria": "add at least one [[criteria]] table",
    "repo": 'write repo = "owner/name"',
    "revision": "pin the repository's 40-hex commit id",
    "format": "one of " + ", ".join(IMPORT_FORMATS),
    "path": "the folder to read",
}


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _where(loc: tuple[int | str, ...]) -> tuple[str, type[BaseModel] | None]:
    """A pydantic error location as the field path a person reads (``criteria[1].goal``; a dataset's kind tag
    left out), and the model that holds the last key (for did-you-mean on an unknown field)."""
    path = ""
    tp: Any = Suite
    holder: type[BaseModel] | None = None
    for key in loc:
        tp = _unwrap(tp)
        args = get_args(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            holder = tp
            path += f".{key}" if path else str(key)
            field = tp.model_fields.get(str(key))
            tp = field.annotation if field is not None else None
        elif get_origin(tp) is list and isinstance(key, int):
            path += f"[{key}]"
            tp = args[0] if args else None
        elif get_origin(tp) is Union and isinstance(key, str) and key in DATASET_KINDS:
            tp = DATASET_KINDS[key]  # the discriminator's tag: not a field
        elif get_origin(tp) is Union:
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if len(models) == 1 else None
            if tp is None:
                path += f".{key}" if isinstance(key, str) else f"[{key}]"
        else:
            path += f"[{key!r}]" if isinstance(key, str) else f"[{key}]"
            tp = args[-1] if get_origin(tp) is dict and args else None
    return path or "(top level)", holder


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _lines(exc: ValidationError) -> list[str]:
    """One line per pydantic error: "<path>: <what is wrong and the fix>"."""
    out: list[str] = []
    for err in exc.errors(include_url=False):
        kind = err["type"]
        loc = tuple(err["loc"])
        ctx = err.get("ctx") or {}
        if kind == "value_error" and not loc:  # the suite's cross-field checks: lines with their own paths
            message = str(ctx.get("error", err["msg"]))
            out.extend(line.replace(_CROSS, ": ") for line in message.splitlines())
            continue
        path, holder = _where(loc)
        if kind == "extra_forbidden":
            key = str(loc[-1])
            fields = list(holder.model_fields) if holder is not None else []
            out.append(f"{path}: unknown field{suggest(key, fields)}; the fields are: {', '.join(fields)}")
        elif kind == "literal_error":
            expected = re.sub(r"'([^']*)'", r"\1", str(ctx.get("expected", ""))).replace(" or ", ", ")
            out.append(f"{path}: {_short(err['input'])} is not one of {expected}")
        elif kind == "union_tag_invalid":
            out.append(f"{path}.kind: {_short(ctx.get('tag'))} is not one of {', '.join(DATASET_KINDS)}")
        elif kind == "union_tag_not_found":
            out.append(f"{path}.kind: missing; give kind = one of {', '.join(DATASET_KINDS)}")
        elif kind == "missing":
            hint = _MISSING.get(str(loc[-1]), "add it")
            if holder is ScorerSpec and loc[-1] == "name":
                hint = 'give name = "<catalog scorer>" or class_path = "package.module:Class"'
            out.append(f"{path}: missing; {hint}")
        elif kind == "too_short" and holder is Suite:
            out.append(f"{path}: empty; {_MISSING.get(str(loc[-1]), 'add an entry')}")
        elif kind == "value_error":
            out.append(f"{path}: {str(ctx.get('error', err['msg']))}")
        else:
            message = err["msg"]
            out.append(f"{path}: {message[:1].lower()}{message[1:]} (got {_short(err['input'])})")
    return out


# -- loading ------------------------------------------------------------------------------------------------------


def suite_from_data(data: Any, source: str = "suite") -> Suite:
    """``data`` (the parsed file) as a ``Suite``; ``SuiteError`` with one "<source>: <path>: <problem>" line each."""
    if not isinstance(data, dict):
        raise SuiteError([f"{source}: the top level must be a table (TOML) or an object (JSON) of the suite's fields"])
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise SuiteError([f"{source}: {line}" for line in _lines(exc)]) from None


def _toml_loads(text: str) -> dict[str, Any]:
    # tomllib is stdlib from Python 3.11; tomli is its backport for 3.10 (a dependency there).
    module = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    loaded: dict[str, Any] = module.loads(text)
    return loaded


def canonical_hash(suite: Suite) -> str:
    """sha256 of the suite's validated content as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(suite.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoadedSuite:
    """A validated suite, the file it came from (resolved: relative dataset paths are read from its folder) and
    the hash of its content."""

    suite: Suite
    path: Path
    content_hash: str

    def resolve(self, relative: str) -> Path:
        """A path written in the suite (a local dataset's), relative to the suite file's folder."""
        return (self.path.parent / Path(relative).expanduser()).resolve()


def load_suite(path: Path) -> LoadedSuite:
    """Read and validate the suite file ``path`` (``.toml`` or ``.json``); ``SuiteError`` for anything wrong."""
    path = Path(path)
    source = path.name
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise SuiteError([f"{source}: a suite file is .toml or .json, not {suffix or 'without a suffix'}"])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError([f"{source}: no such file: {path}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError([f"{source}: cannot read it: {exc}"]) from None
    if suffix == ".json":
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SuiteError(
                [f"{source}: line {exc.lineno}, column {exc.colno}: JSON syntax error: {exc.msg}"]
            ) from None
    else:
        try:
            data = _toml_loads(text)
        except ValueError as exc:  # tomllib.TOMLDecodeError, whose message ends "(at line L, column C)"
            message = str(exc)
            where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
            if where:
                message = f"line {where[1]}, column {where[2]}: TOML syntax error: {message[: where.start()]}"
            else:
                message = f"TOML syntax error: {message}"
            raise SuiteError([f"{source}: {message}"]) from None
    suite = suite_from_data(data, source)
    return LoadedSuite(suite=suite, path=path.resolve(), content_hash=canonical_hash(suite))
