"""The expression language inside ``{{ … }}``: tokenizer, parser and evaluator.

Plain deterministic Python (it runs inside workflow code): no ``eval``, no I/O.
Grammar::

    expr    := or
    or      := and (("||" | "or") and)*
    and     := not (("&&" | "and") not)*
    not     := ("!" | "not") not | compare
    compare := atom (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in") atom)?
    atom    := number | string | true | false | null | path | "(" expr ")"
    path    := name ("." name | "." digits | "[" digits "]" | "[" string "]")*

Every step is bounded by the input: one regex match per token (each alternative
consumes what it matches without backtracking), a loop per operator chain, and
recursion only for nesting, which is capped at ``MAX_DEPTH`` levels of ``(`` and
``!``/``not`` so a hostile expression is a TemplateError, never a RecursionError.
Long ``&&``/``||`` chains are evaluated and walked with loops for the same reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>-?\d+(?:\.\d+)?)
      | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!().\[\]])
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.X,
)
_ESCAPE = re.compile(r"\\(.)")
KEYWORDS = {"true": True, "false": False, "null": None}
COMPARE = ("==", "!=", "<", "<=", ">", ">=", "in")
MAX_EXPRESSION = 2000  # characters inside one {{ … }}
MAX_DEPTH = 32  # nested "(" and "!"/"not" in one expression


class TemplateError(ValueError):
    """A template that cannot be parsed."""


@dataclass(frozen=True)
class Path:
    parts: tuple[str | int, ...]


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Fallback:
    """``expression | text``: the text when the expression is missing, null or ``""``."""

    expression: Node
    text: str


Node = Path | Literal | Unary | Binary | Fallback


def _tokens(text: str) -> list[tuple[str, str]]:
    if len(text) > MAX_EXPRESSION:
        raise TemplateError(f"expression is too long (at most {MAX_EXPRESSION} characters)")
    out: list[tuple[str, str]] = []
    pos = 0
    end = len(text.rstrip())  # only whitespace after this
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise TemplateError(f"unexpected character {text[pos:].strip()[:1]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise TemplateError("unexpected end of expression")
        self.i += 1
        return tok

    def accept(self, *values: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok[0] in ("op", "name") and tok[1] in values:
            self.i += 1
            return tok[1]
        return None

    def enter(self, levels: int = 1) -> None:
        self.depth += levels
        if self.depth > MAX_DEPTH:
            raise TemplateError(f"expression nests deeper than {MAX_DEPTH} levels of ( and !")

    def parse(self) -> Node:
        if not self.tokens:
            raise TemplateError("empty expression")
        node = self.or_()
        tok = self.peek()
        if tok is not None:
            raise TemplateError(f"unexpected {tok[1]!r}")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.accept("||", "or"):
            node = Binary("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.accept("&&", "and"):
            node = Binary("and", node, self.not_())
        return node

    def not_(self) -> Node:
        count = 0
        while self.accept("!", "not"):
            count += 1
            self.enter()
        node = self.compare()
        for _ in range(count):
            node = Unary("not", node)
        self.depth -= count
        return node

    def compare(self) -> Node:
        node = self.atom()
        op = self.accept(*COMPARE)
        if op:
            node = Binary(op, node, self.atom())
        return node

    def atom(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            return Literal(float(value) if "." in value else int(value))
        if kind == "str":
            return Literal(_unquote(value))
        if kind == "op" and value == "(":
            self.enter()
            node = self.or_()
            if not self.accept(")"):
                raise TemplateError("missing ')'")
            self.depth -= 1
            return node
        if kind == "name":
            if value in KEYWORDS:
                return Literal(KEYWORDS[value])
            return self.path(value)
        raise TemplateError(f"unexpected {value!r}")

    def path(self, first: str) -> Path:
        parts: list[str | int] = [first]
        while True:
            if self.accept("."):
                kind, value = self.take()
                if kind == "name":
                    parts.append(value)
                elif kind == "num" and value.replace(".", "").isdigit():
                    parts.extend(int(p) for p in value.split("."))  # items.0.1 lexes as 0.1
                else:
                    raise TemplateError(f"expected a name after '.', got {value!r}")
            elif self.accept("["):
                kind, value = self.take()
                if kind == "num" and value.lstrip("-").isdigit():
                    parts.append(int(value))
                elif kind == "str":
                    parts.append(_unquote(value))
                else:
                    raise TemplateError(f"expected an index or a quoted key, got {value!r}")
                if not self.accept("]"):
                    raise TemplateError("missing ']'")
            else:
                return Path(tuple(parts))


def _unquote(token: str) -> str:
    return _ESCAPE.sub(r"\1", token[1:-1])


def parse_expression(expression: str) -> Node:
    """Parse an expression (no fallback); raises TemplateError."""
    return _Parser(expression).parse()


def lookup(context: Any, parts: tuple[str | int, ...]) -> Any:
    """Walk ``parts`` through dicts and lists; anything missing is None."""
    value = context
    for part in parts:
        if isinstance(value, Mapping):
            value = value.get(part if isinstance(part, str) else str(part))
        elif isinstance(value, list | tuple) and isinstance(part, int):
            value = value[part] if -len(value) <= part < len(value) else None
        else:
            return None
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "in":
        try:
            return left in right  # type: ignore[operator]
        except TypeError:
            return False
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False  # null < 3 and the like are simply false


def missing(value: Any) -> bool:
    """What a fallback replaces: no value, null, or the empty string."""
    return value is None or value == ""


def evaluate(node: Node, context: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Path):
        return lookup(context, node.parts)
    if isinstance(node, Fallback):
        value = evaluate(node.expression, context)
        return node.text if missing(value) else value
    if isinstance(node, Unary):
        return not truthy(evaluate(node.operand, context))
    if node.op in ("and", "or"):
        # ``a || b || c`` parses left-deep: walk the chain down, then fold it back up.
        chain: list[Binary] = []
        bottom: Node = node
        while isinstance(bottom, Binary) and bottom.op in ("and", "or"):
            chain.append(bottom)
            bottom = bottom.left
        result = truthy(evaluate(bottom, context))
        for link in reversed(chain):
            if link.op == "and":
                result = result and truthy(evaluate(link.right, context))
            else:
                result = result or truthy(evaluate(link.right, context))
        return result
    return _compare(node.op, evaluate(node.left, context), evaluate(node.right, context))


def truthy(value: Any) -> bool:
    """JSON-ish truth: null, false, 0, "", "false", [] and {} are false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "null")
    return bool(value)


def paths(node: Node) -> Iterator[tuple[str | int, ...]]:
    """Every path an expression reads, left to right."""
    todo: list[Node] = [node]
    while todo:
        item = todo.pop()
        if isinstance(item, Path):
            yield item.parts
        elif isinstance(item, Fallback):
            todo.append(item.expression)
        elif isinstance(item, Unary):
            todo.append(item.operand)
        elif isinstance(item, Binary):
            todo += (item.right, item.left)
