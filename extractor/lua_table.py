"""A small parser (and writer) for the Lua table-constructor literals Lightroom keeps its settings in.

Lightroom Classic stores develop settings as Lua source, `s = { CropLeft = 0.1, ToneCurve = { 0, 0, 255, 255 }, ... }`
(Adobe_imageDevelopSettings.text). This module reads exactly the literal subset of Lua such text uses; it never
evaluates anything:

- an optional leading assignment `name =` (dropped: `loads` returns the value), then one value, then the end;
- values: numbers (decimal, `.5`, `5.`, exponents, hex `0x1F` and hex floats `0x1.8p3`, unary minus), strings
  (`"..."`, `'...'` with Lua's escapes, long brackets `[[...]]` / `[==[...]==]`), `true`, `false`, `nil`, tables;
- table fields: `name = v`, `["key"] = v` / `[1] = v` / `[true] = v`, positional `v`; separated by `,` or `;`,
  a trailing separator allowed;
- comments: `-- line` and `--[[ long ]]` / `--[==[ long ]==]`.

Tables become Python values this way (Lua has one table type, Python needs a choice):

- a table whose keys are exactly 1..n (purely positional, and the empty table `{ }`) is a `list`;
- any other table is a `dict`; positional entries sit under integer keys 1, 2, ... next to the named ones.
  A key written as an integral float (`[2.0]`) is the integer key 2, as in Lua 5.3. `k = nil` removes `k`.

Malformed or truncated input raises `LuaSyntaxError` (a `ValueError`) naming the character offset; tables nested
deeper than `max_depth` raise it too, never `RecursionError`.
"""
from __future__ import annotations

import math
import re
from typing import Any, Union

LuaValue = Union[None, bool, int, float, str, list, dict]

MAX_DEPTH = 100  # Lightroom nests 4-5 deep (masks in corrections); well below Python's recursion limit.

_KEYWORDS = frozenset(
    "and break do else elseif end false for function goto if in local nil not or repeat return then true until while".split()
)

# One token per match, whitespace in front of it skipped. The order of the alternatives matters: a long comment
# before a line comment, a long string before the `[` of a bracketed key, the unfinished forms after the
# finished ones, and a catch-all last so that every character is accounted for (finditer never skips text).
_TOKEN = re.compile(
    r"""[ \t\r\n\f\v]*(?:
      (?P<longcomment>--\[(?P<lceq>=*)\[.*?\](?P=lceq)\])
    | (?P<badlongcomment>--\[=*\[)
    | (?P<comment>--[^\n]*)
    | (?P<number>0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?
                |(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    | (?P<longstring>\[(?P<lseq>=*)\[.*?\](?P=lseq)\])
    | (?P<badlongstring>\[=*\[)
    | (?P<punct>[{}\[\]=,;-])
    | (?P<badstring>["'])
    | (?P<bad>.)
    )""",
    re.VERBOSE | re.DOTALL,
)
# A numeral glued to a letter or another numeral (`3abc`, `0x`, `1e`, `1..2`) is malformed in Lua.
_GLUED = re.compile(r"[A-Za-z0-9_.]")

_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   "\\": "\\", '"': '"', "'": "'", "\n": "\n"}
_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|([0-9]{1,3})|u\{([0-9a-fA-F]+)\}|z[ \t\r\n\f\v]*|(.))", re.DOTALL)

_EOF = "<eof>"


class LuaSyntaxError(ValueError):
    """Input that is not a Lua table literal of the subset above; `position` is the character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"Lua syntax error at {position}: {message}")
        self.position = position
        self.reason = message


def _unescape(body: str, start: int) -> str:
    """The value of a quoted string's `body` (between the quotes); `start` is its offset, for errors."""
    if "\\" not in body:
        return body
    out: list[str] = []
    pending = bytearray()  # \ddd and \xXX are bytes: a run of them may spell one UTF-8 character

    def flush() -> None:
        if pending:
            out.append(pending.decode("utf-8", errors="replace"))
            pending.clear()

    last = 0
    for m in _ESCAPE.finditer(body):
        if m.start() > last:
            flush()
            out.append(body[last:m.start()])
        last = m.end()
        hex_byte, decimal, codepoint, other = m.groups()
        if hex_byte is not None:
            pending.append(int(hex_byte, 16))
        elif decimal is not None:
            value = int(decimal)
            if value > 255:
                raise LuaSyntaxError(f"decimal escape \\{decimal} is too large", start + m.start())
            pending.append(value)
        elif codepoint is not None:
            flush()
            value = int(codepoint, 16)
            if value > 0x10FFFF:
                raise LuaSyntaxError("UTF-8 escape value is too large", start + m.start())
            out.append(chr(value))
        elif other is not None:
            if other not in _SIMPLE_ESCAPES:
                raise LuaSyntaxError(f"invalid escape sequence \\{other}", start + m.start())
            flush()
            out.append(_SIMPLE_ESCAPES[other])
        # else: \z, which skips the whitespace after it
    flush()
    out.append(body[last:])
    return "".join(out)


def _number(text: str, position: int) -> int | float:
    lowered = text.lower()
    if lowered.startswith("0x"):
        if "." in lowered or "p" in lowered:
            return float.fromhex(text)
        return int(text, 16)
    if "." in text or "e" in lowered:
        return float(text)
    return int(text)


def _tokenize(text: str) -> tuple[list[str], list[Any], list[int]]:
    """Token kinds (punctuation is its own kind), their values and their offsets, ending with an <eof> token."""
    kinds: list[str] = []
    values: list[Any] = []
    positions: list[int] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        start = m.start(kind)
        token = m.group(kind)
        if kind == "punct":
            kinds.append(token)
            values.append(None)
        elif kind == "name":
            kinds.append("name")
            values.append(token)
        elif kind == "number":
            end = m.end()
            if end < len(text) and _GLUED.match(text, end):
                raise LuaSyntaxError(f"malformed number near {text[start:end + 1]!r}", start)
            kinds.append("value")
            values.append(_number(token, start))
        elif kind == "string":
            kinds.append("value")
            values.append(_unescape(token[1:-1], start + 1))
        elif kind == "longstring":
            level = len(m.group("lseq"))
            body = token[level + 2:-(level + 2)]
            # Lua drops a newline right after the opening bracket.
            if body.startswith("\r\n"):
                body = body[2:]
            elif body[:1] in ("\n", "\r"):
                body = body[1:]
            kinds.append("value")
            values.append(body)
        elif kind in ("comment", "longcomment"):
            continue
        elif kind == "badlongcomment":
            raise LuaSyntaxError("unfinished long comment", start)
        elif kind == "badlongstring":
            raise LuaSyntaxError("unfinished long string", start)
        elif kind == "badstring":
            raise LuaSyntaxError("unfinished string", start)
        else:
            raise LuaSyntaxError(f"unexpected character {token!r}", start)
        positions.append(start)
    kinds.append(_EOF)
    values.append(None)
    positions.append(len(text))
    return kinds, values, positions


class _Parser:
    def __init__(self, text: str, max_depth: int) -> None:
        self.kinds, self.values, self.positions = _tokenize(text)
        self.i = 0
        self.max_depth = max_depth

    def error(self, message: str) -> LuaSyntaxError:
        kind = self.kinds[self.i]
        found = "end of input" if kind == _EOF else (repr(self.values[self.i]) if kind in ("name", "value") else f"'{kind}'")
        return LuaSyntaxError(f"{message}, found {found}", self.positions[self.i])

    def expect(self, kind: str) -> None:
        if self.kinds[self.i] != kind:
            raise self.error(f"expected '{kind}'")
        self.i += 1

    def value(self, depth: int) -> LuaValue:
        kind = self.kinds[self.i]
        if kind == "value":
            self.i += 1
            return self.values[self.i - 1]
        if kind == "{":
            return self.table(depth + 1)
        if kind == "name":
            word = self.values[self.i]
            if word == "true":
                self.i += 1
                return True
            if word == "false":
                self.i += 1
                return False
            if word == "nil":
                self.i += 1
                return None
            raise self.error("expected a value (a literal, not a variable)")
        if kind == "-":
            # Unary minus: Lua allows it on numbers only in a literal (`- -1` is 1).
            self.i += 1
            operand = self.value(depth)
            if isinstance(operand, bool) or not isinstance(operand, (int, float)):
                self.i -= 1
                raise self.error("expected a number after '-'")
            return -operand
        raise self.error("expected a value")

    def table(self, depth: int) -> list | dict:
        if depth > self.max_depth:
            raise LuaSyntaxError(f"tables nested deeper than {self.max_depth}", self.positions[self.i])
        self.i += 1  # the '{'
        kinds, values = self.kinds, self.values
        result: dict[Any, Any] = {}
        count = 0  # positional entries so far
        keyed = False  # any explicit key or nil: the result may not be a plain list
        while kinds[self.i] != "}":
            kind = kinds[self.i]
            if kind == "name" and kinds[self.i + 1] == "=" and values[self.i] not in _KEYWORDS:
                key: Any = values[self.i]
                self.i += 2
                keyed = True
            elif kind == "[":
                self.i += 1
                key_position = self.positions[self.i]
                key = self.value(depth)
                self.expect("]")
                self.expect("=")
                if key is None:
                    raise LuaSyntaxError("table index is nil", key_position)
                if isinstance(key, float):
                    if math.isnan(key):
                        raise LuaSyntaxError("table index is NaN", key_position)
                    if key.is_integer():
                        key = int(key)
                keyed = True
            else:
                count += 1
                key = count
            item = self.value(depth)
            if item is None:
                result.pop(key, None)
                keyed = True
            else:
                result[key] = item
            if kinds[self.i] in (",", ";"):
                self.i += 1
            elif kinds[self.i] != "}":
                raise self.error("expected ',' or '}' after a table field")
        self.i += 1  # the '}'
        if not keyed and len(result) == count:
            return list(result.values())  # inserted in order 1..n
        if result and all(type(k) is int for k in result) and sorted(result) == list(range(1, len(result) + 1)):
            return [result[k] for k in range(1, len(result) + 1)]
        return result or []


def loads(text: str, *, max_depth: int = MAX_DEPTH) -> LuaValue:
    """The value of a Lua literal such as Lightroom's `s = { ... }` (the assignment's name is dropped)."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, not {type(text).__name__}")
    parser = _Parser(text, max_depth)
    kinds = parser.kinds
    if kinds[0] == "name" and kinds[1] == "=" and parser.values[0] not in _KEYWORDS:
        parser.i = 2
    result = parser.value(0)
    if kinds[parser.i] != _EOF:
        raise parser.error("expected the end of input after the value")
    return result


# --- writing ---------------------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _dump_string(value: str) -> str:
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch < " " or ch == "\x7f":
            out.append(f"\\{ord(ch):03d}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _dump_number(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"{value!r} has no Lua literal")
    # Like Lua 5.1's tostring, which Lightroom uses: 0.0 is written `0`, 100.0 `100`.
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _dump_key(key: Any) -> str:
    if isinstance(key, str):
        return key if _IDENTIFIER.match(key) and key not in _KEYWORDS else f"[{_dump_string(key)}]"
    if isinstance(key, bool):
        return f"[{'true' if key else 'false'}]"
    if isinstance(key, (int, float)):
        return f"[{_dump_number(key)}]"
    raise TypeError(f"a Lua table key cannot be a {type(key).__name__}")


def _sort_key(key: Any) -> tuple:
    # Numbers first in numeric order, then strings in byte order (Lightroom writes its keys sorted).
    return (0, key, "") if isinstance(key, (int, float)) and not isinstance(key, bool) else (1, 0, str(key))


def _dump(value: Any, depth: int) -> str:
    if depth > MAX_DEPTH:
        raise ValueError(f"tables nested deeper than {MAX_DEPTH}")
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return _dump_number(value)
    if isinstance(value, str):
        return _dump_string(value)
    if isinstance(value, (list, tuple)):
        items = [_dump(item, depth + 1) for item in value]
    elif isinstance(value, dict):
        items = [f"{_dump_key(k)} = {_dump(value[k], depth + 1)}" for k in sorted(value, key=_sort_key)]
    else:
        raise TypeError(f"{type(value).__name__} has no Lua literal")
    # Lightroom's layout: one field a line, `{  }` for an empty table, no trailing separator.
    return "{ " + ",\n".join(items) + " }" if items else "{  }"


def dumps(value: LuaValue, name: str | None = "s") -> str:
    """`value` as Lightroom writes it (`s = { Key = value,\\n... }`, keys sorted); `loads` reads it back."""
    body = _dump(value, 0)
    return f"{name} = {body}" if name else body
