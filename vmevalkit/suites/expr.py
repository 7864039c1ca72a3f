"""The arithmetic of expression criteria (``expr = "success - 0.5 * max(end, 0.1)"``), parsed by hand.

A suite file is data from anyone: its expressions must never reach Python's ``eval``, ``compile`` or
``ast.literal_eval``, which would run (or at least parse) Python. A tokenizer and a recursive-descent parser accept
exactly this grammar and nothing else::

    expr  := term (("+" | "-") term)*
    term  := unary (("*" | "/") unary)*
    unary := "-" unary | atom
    atom  := NUMBER | NAME | FUNC "(" expr ("," expr)* ")" | "(" expr ")"
    FUNC  := min | max | abs

``NAME`` is another criterion's value. Evaluation gives None where any input is None (a criterion without a value)
or a division by zero: a composite then scores that criterion 0 instead of crashing the leaderboard.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["FUNCTIONS", "Expr", "ExprError", "parse"]

# name -> (fewest arguments, most arguments (None: any), the function)
FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., float]]] = {
    "abs": (1, 1, abs),
    "max": (1, None, max),
    "min": (1, None, min),
}
MAX_LENGTH = 1000  # characters: a criterion is a line, not a program
MAX_DEPTH = 50  # nesting of parentheses, calls and unary minus: deeper is refused, not a RecursionError

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>[-+*/(),])"
)


class ExprError(ValueError):
    """A malformed expression: ``message`` and the 1-based ``column`` where the problem starts."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} at column {column}")
        self.message = message
        self.column = column


@dataclass(frozen=True)
class _Token:
    kind: str  # number | name | op | end | bad
    text: str
    column: int  # 1-based


def _tokens(text: str) -> list[_Token]:
    """Every token, then ``end``. A character outside the grammar becomes a ``bad`` token (and ends the list), so
    the parser reports what it expected there: ``__import__('os')`` is an unknown function before it is a quote."""
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            out.append(_Token("bad", text[pos], pos + 1))
            return out
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, match.group(), pos + 1))
        pos = match.end()
    out.append(_Token("end", "", len(text) + 1))
    return out


class Expr(ABC):
    """A node of a parsed expression."""

    @property
    @abstractmethod
    def names(self) -> frozenset[str]:
        """The criteria this expression reads."""

    @abstractmethod
    def _value(self, values: Mapping[str, float | None]) -> float | None: ...

    def evaluate(self, values: Mapping[str, float | None]) -> float | None:
        """The value over ``values`` (criterion name -> value); None when an input is None or absent, on a
        division by zero, or when the result is not finite."""
        try:
            result = self._value(values)
        except (ZeroDivisionError, OverflowError):
            return None
        return result if result is not None and math.isfinite(result) else None


@dataclass(frozen=True)
class Number(Expr):
    value: float

    @property
    def names(self) -> frozenset[str]:
        return frozenset()

    def _value(self, values: Mapping[str, float | None]) -> float | None:
        return self.value


@dataclass(frozen=True)
class Name(Expr):
    name: str

    @property
    def names(self) -> frozenset[str]:
        return frozenset({self.name})

    def _value(self, values: Mapping[str, float | None]) -> float | None:
        value = values.get(self.name)
        return None if value is None else float(value)


@dataclass(frozen=True)
class Negate(Expr):
    operand: Expr

    @property
    def names(self) -> frozenset[str]:
        return self.operand.names

    def _value(self, values: Mapping[str, float | None]) -> float | None:
        value = self.operand._value(values)
        return None if value is None else -value


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # + - * /
    left: Expr
    right: Expr

    @property
    def names(self) -> frozenset[str]:
        return self.left.names | self.right.names

    def _value(self, values: Mapping[str, float | None]) -> float | None:
        a, b = self.left._value(values), self.right._value(values)
        if a is None or b is None:
            return None
        if self.op == "+":
            return a + b
        if self.op == "-":
            return a - b
        if self.op == "*":
            return a * b
        return a / b  # ZeroDivisionError: evaluate() answers None


@dataclass(frozen=True)
class Call(Expr):
    function: str
    args: tuple[Expr, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset().union(*(a.names for a in self.args))

    def _value(self, values: Mapping[str, float | None]) -> float | None:
        got = [a._value(values) for a in self.args]
        if any(v is None for v in got):
            return None
        return float(FUNCTIONS[self.function][2](*got))


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def fail(self, expected: str) -> ExprError:
        tok = self.token
        if tok.kind == "bad":
            return ExprError(f"unexpected character {tok.text!r}; expected {expected}", tok.column)
        if tok.kind == "end":
            return ExprError(f"the expression ends early; expected {expected}", tok.column)
        return ExprError(f"unexpected {tok.text!r}; expected {expected}", tok.column)

    def take(self, text: str) -> bool:
        if self.token.kind == "op" and self.token.text == text:
            self.at += 1
            return True
        return False

    def whole(self) -> Expr:
        node = self.expr()
        if self.token.kind != "end":
            raise self.fail("an operator (+ - * /) or the end")
        return node

    def expr(self) -> Expr:
        node = self.term()
        while self.token.kind == "op" and self.token.text in "+-":
            op = self.token.text
            self.at += 1
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Expr:
        node = self.unary()
        while self.token.kind == "op" and self.token.text in "*/":
            op = self.token.text
            self.at += 1
            node = Binary(op, node, self.unary())
        return node

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"nested more than {MAX_DEPTH} deep", self.tokens[self.at - 1].column)

    def unary(self) -> Expr:
        if self.take("-"):
            self.nested()
            node: Expr = Negate(self.unary())
            self.depth -= 1
            return node
        return self.atom()

    def atom(self) -> Expr:
        tok = self.token
        if tok.kind == "number":
            self.at += 1
            value = float(tok.text)
            if not math.isfinite(value):
                raise ExprError(f"the number {tok.text} is too large", tok.column)
            return Number(value)
        if tok.kind == "name":
            self.at += 1
            if self.token.kind == "op" and self.token.text == "(":
                return self.call(tok)
            if tok.text in FUNCTIONS:
                raise ExprError(f"{tok.text} is a function: write {tok.text}(...)", tok.column)
            return Name(tok.text)
        if self.take("("):
            self.nested()
            node = self.expr()
            if not self.take(")"):
                raise self.fail("')'")
            self.depth -= 1
            return node
        raise self.fail("a number, a criterion's name, a function (abs, max, min) or '('")

    def call(self, name: _Token) -> Expr:
        if name.text not in FUNCTIONS:
            raise ExprError(f"unknown function {name.text!r}; the functions are: {', '.join(FUNCTIONS)}", name.column)
        self.at += 1  # the "("
        self.nested()
        args = [self.expr()]
        while self.take(","):
            args.append(self.expr())
        if not self.take(")"):
            raise self.fail("',' or ')'")
        self.depth -= 1
        least, most, _ = FUNCTIONS[name.text]
        if len(args) < least or (most is not None and len(args) > most):
            wanted = f"{least}" if most == least else f"at least {least}"
            raise ExprError(f"{name.text}() takes {wanted} argument(s), got {len(args)}", name.column)
        return Call(name.text, tuple(args))


@lru_cache(maxsize=1024)
def parse(text: str) -> Expr:
    """The expression ``text`` as a tree; ``ExprError`` (with its column) for anything outside the grammar."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    if not text.strip():
        raise ExprError("the expression is empty", 1)
    return _Parser(text).whole()
