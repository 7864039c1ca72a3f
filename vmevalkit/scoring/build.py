"""Building a scorer from its class: ours as it is, or one written for CMI-RewardBench wrapped by its adapter.

Apart from ``base`` (the contract) because it needs both the contract and the CMI adapter, which builds on it.
"""

from __future__ import annotations

import inspect
from typing import Any

from vmevalkit.scoring.base import ScorerContractError, dimensions_of, inputs_of, ranges_of
from vmevalkit.scoring.cmi_adapter import CONTRACTS, adapt, follows_cmi
from vmevalkit.utils.redact import scrub


def build_scorer(
    cls: type,
    init_kwargs: dict[str, Any] | None = None,
    checkpoint: str | None = None,
    device: str | None = None,
    *,
    contract: str = "auto",
    dimensions: list[str] | None = None,
    max_dur: float | None = None,
) -> Any:
    """Instantiate a scorer, passing ``checkpoint`` and ``device`` where its constructor takes them.

    ``contract``: "vmevalkit" (ours), "cmi" (a class written for CMI-RewardBench's ``--model_class_path``, wrapped by
    ``vmevalkit.scoring.cmi_adapter``), or "auto" (CMI when the class looks like one: ``follows_cmi``). A CMI class
    gets ``checkpoint`` and ``device`` whenever they are given, as CMI-RewardBench passes them; ``dimensions`` and
    ``max_dur`` are the CMI adapter's. Whatever the constructor raises becomes one ScorerContractError naming the
    class and the exception: a plug-in that refuses its options is a usage error, not a traceback."""
    if contract not in CONTRACTS:
        raise ScorerContractError(f"unknown scorer contract {contract!r}: choose one of {', '.join(CONTRACTS)}")
    cmi = contract == "cmi" or (contract == "auto" and follows_cmi(cls))
    where = f"{cls.__module__}:{cls.__qualname__}"
    kwargs = dict(init_kwargs or {})
    params: dict[str, inspect.Parameter] = {}
    readable = True
    try:
        params = dict(inspect.signature(cls).parameters)
    except (TypeError, ValueError):  # a class whose signature cannot be read: pass only what was asked (CMI: more)
        readable = False
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key, value in (("checkpoint", checkpoint), ("device", device)):
        if value is not None and (key in params or takes_any or (cmi and not readable)):
            kwargs.setdefault(key, value)
    needs = params.get("checkpoint")
    if needs is not None and needs.default is inspect.Parameter.empty and "checkpoint" not in kwargs:
        raise ScorerContractError(f"{where} needs a checkpoint: pass --checkpoint PATH (CMI-RewardBench's -c)")
    try:
        scorer = cls(**kwargs)
    except Exception as exc:
        # The constructor's own message may echo an option's value: scrubbed, the original not chained.
        raise ScorerContractError(scrub(f"{where}({', '.join(kwargs)}) failed: {type(exc).__name__}: {exc}")) from None
    scorer = adapt(scorer, cmi, dimensions, max_dur)
    dimensions_of(scorer)
    inputs_of(scorer)
    ranges_of(scorer)
    return scorer
