"""Template expressions in workflow definitions: ``{{input.name}}``, ``{{steps.s1.output.id}}``.

Evaluated inside workflow code, so this is plain deterministic Python: a small
tokenizer and recursive-descent parser over a tiny grammar, no ``eval``, no I/O,
no template library. Grammar (inside ``{{ … }}``)::

    expr    := or
    or      := and (("||" | "or") and)*
    and     := not (("&&" | "and") not)*
    not     := ("!" | "not") not | compare
    compare := atom (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in") atom)?
    atom    := number | string | true | false | null | path | "(" expr ")"
    path    := name ("." name | "." digits | "[" digits "]" | "[" string "]")*

A string that is exactly one template yields the value itself (object, number,
…); a template inside other text is interpolated as text. A path that does not
exist yields ``null`` rather than failing the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.S)
WHOLE = re.compile(r"^\s*\{\{(.*?)\}\}\s*$", re.S)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>-?\d+(?:\.\d+)?)
      | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!().\[\]])
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.X,
)
KEYWORDS = {"true": True, "false": False, "null": None}
COMPARE = ("==", "!=", "<", "<=", ">", ">=", "in")
MAX_EXPRESSION = 2000


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


Node = Path | Literal | Unary | Binary


def _tokens(text: str) -> list[tuple[str, str]]:
    if len(text) > MAX_EXPRESSION:
        raise TemplateError("expression is too long")
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"unexpected character {text[pos:].strip()[:1]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

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

    def parse(self) -> Node:
        if not self.tokens:
            raise TemplateError("empty expression")
        node = self.or_()
        if self.peek() is not None:
            raise TemplateError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
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
        if self.accept("!", "not"):
            return Unary("not", self.not_())
        return self.compare()

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
            node = self.or_()
            if not self.accept(")"):
                raise TemplateError("missing ')'")
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
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def parse(expression: str) -> Node:
    """Parse the inside of one ``{{ … }}``; raises TemplateError."""
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


def evaluate(node: Node, context: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Path):
        return lookup(context, node.parts)
    if isinstance(node, Unary):
        return not truthy(evaluate(node.operand, context))
    if node.op == "and":
        return truthy(evaluate(node.left, context)) and truthy(evaluate(node.right, context))
    if node.op == "or":
        return truthy(evaluate(node.left, context)) or truthy(evaluate(node.right, context))
    return _compare(node.op, evaluate(node.left, context), evaluate(node.right, context))


def truthy(value: Any) -> bool:
    """JSON-ish truth: null, false, 0, "", "false", [] and {} are false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "null")
    return bool(value)


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def render_string(text: str, context: Mapping[str, Any]) -> Any:
    whole = WHOLE.match(text)
    if whole and "{{" not in whole.group(1):
        return evaluate(parse(whole.group(1)), context)
    if "{{" not in text:
        return text
    return TEMPLATE.sub(lambda m: as_text(evaluate(parse(m.group(1)), context)), text)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every template inside a JSON value (dict keys are left alone)."""
    if isinstance(value, str):
        return render_string(value, context)
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    return value


def condition(expression: str, context: Mapping[str, Any]) -> bool:
    """An ``if``: either a template (``"{{x > 1}}"``) or a bare expression (``"x > 1"``)."""
    if "{{" in expression:
        return truthy(render_string(expression, context))
    return truthy(evaluate(parse(expression), context))


def expressions(value: Any) -> Iterator[tuple[str, str]]:
    """Every template inside a JSON value as (field path, expression); for validation."""
    if isinstance(value, str):
        for m in TEMPLATE.finditer(value):
            yield "", m.group(1)
    elif isinstance(value, dict):
        for key, item in value.items():
            for sub, expr in expressions(item):
                yield (f"{key}.{sub}" if sub else str(key)), expr
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for sub, expr in expressions(item):
                yield (f"{index}.{sub}" if sub else str(index)), expr


def paths(node: Node) -> Iterator[tuple[str | int, ...]]:
    """Every path an expression reads."""
    if isinstance(node, Path):
        yield node.parts
    elif isinstance(node, Unary):
        yield from paths(node.operand)
    elif isinstance(node, Binary):
        yield from paths(node.left)
        yield from paths(node.right)


def has_template(value: Any) -> bool:
    return any(True for _ in expressions(value))
