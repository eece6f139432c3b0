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
    "and break do else elseif end false for function goto if in local nil not or repeat return then true until "
    "while".split()
)

# One token per match, whitespace in front of it skipped (possessively: trailing whitespace matches nothing).
# The most frequent tokens come first because the engine tries the alternatives in order; after that the order
# matters: a long string before the `[` of a bracketed key, a long comment before a line comment before `-`,
# unfinished forms after finished ones, and a catch-all last so that every character is accounted for (finditer
# would otherwise skip text silently).
_WS = r"[ \t\r\n\f\v]"
_TOKEN = re.compile(
    r"""[ \t\r\n\f\v]*+(?:
      (?P<field>  # the common case in one match: `[Key =] scalar-or-flat-integer-table [,]`
        (?:(?P<fkey>[A-Za-z_][A-Za-z0-9_]*)WS*=(?!=)WS*)?
        (?:(?P<fint>-?[0-9]+)(?![A-Za-z0-9_.])
          |(?P<ffloat>-?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|-?[0-9]+[eE][+-]?[0-9]+)(?![A-Za-z0-9_.])
          |(?P<fstr>"[^"\\\n]*")
          |(?P<fword>true|false|nil)(?![A-Za-z0-9_])
          |(?P<fints>\{WS*(?:-?[0-9]+WS*,WS*)*(?:-?[0-9]+WS*)?\})
        )
        WS*(?P<fsep>[,;])?
      )
    | (?P<key>[A-Za-z_][A-Za-z0-9_]*)WS*=(?!=)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<hex>0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)(?![A-Za-z0-9_.])
    | (?P<float>(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)(?![A-Za-z0-9_.])
    | (?P<int>[0-9]+)(?![A-Za-z0-9_.])
    | (?P<badnumber>\.?[0-9][A-Za-z0-9_.]*)
    | (?P<punct>[{},;=\]])
    | (?P<string>"(?:[^"\\\n]|\\zWS*|\\.)*"|'(?:[^'\\\n]|\\zWS*|\\.)*')
    | (?P<longstring>\[(?P<lseq>=*)\[.*?\](?P=lseq)\])
    | (?P<badlongstring>\[=*\[)
    | (?P<open>\[)
    | (?P<longcomment>--\[(?P<lceq>=*)\[.*?\](?P=lceq)\])
    | (?P<badlongcomment>--\[=*\[)
    | (?P<comment>--[^\n]*)
    | (?P<minus>-)
    | (?P<badstring>["'])
    | (?P<bad>.)
    )""".replace("WS", _WS),
    re.VERBOSE | re.DOTALL,
)
_G = _TOKEN.groupindex
_FIELDTOKEN = _G["field"]
_FIELD_PARTS = tuple(_G[name] for name in ("fkey", "fint", "ffloat", "fstr", "fword", "fints", "fsep"))
_KEY, _NAME, _HEX, _FLOAT, _INT, _BADNUMBER = _G["key"], _G["name"], _G["hex"], _G["float"], _G["int"], _G["badnumber"]
_PUNCT, _STRING, _LONGSTRING, _OPEN, _MINUS = _G["punct"], _G["string"], _G["longstring"], _G["open"], _G["minus"]
_COMMENTS = frozenset((_G["longcomment"], _G["comment"]))
_ERRORS = {
    _BADNUMBER: "malformed number",
    _G["badlongstring"]: "unfinished long string",
    _G["badlongcomment"]: "unfinished long comment",
    _G["badstring"]: "unfinished string",
}
_LITERAL_NAMES = {"true": True, "false": False, "nil": None}

_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "\n": "\n",
}
_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|([0-9]{1,3})|u\{([0-9a-fA-F]+)\}|z[ \t\r\n\f\v]*|(.))", re.DOTALL)

# What the parser expects next.
_START, _VALUE, _FIELD, _NAME_EQUALS, _SEPARATOR, _KEY_CLOSE, _KEY_EQUALS, _END = range(8)
_BRACKETED = object()  # in a frame's key slot: the value being read is a `[key]`, not a field's value
_EXPECTED = {
    _START: "a value",
    _VALUE: "a value",
    _FIELD: "a table field or '}'",
    _NAME_EQUALS: "'='",
    _SEPARATOR: "',' or '}' after a table field",
    _KEY_CLOSE: "']'",
    _KEY_EQUALS: "'='",
    _END: "the end of input after the value",
}


class LuaSyntaxError(ValueError):
    """Input that is not a Lua table literal of the subset above; `position` is the character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"Lua syntax error at {position}: {message}")
        self.position = position
        self.reason = message


def _shown(token: str) -> str:
    """A token for an error message: one line, not too long."""
    token = token.strip()
    return repr(token if len(token) <= 40 else token[:40] + "...")


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
            out.append(body[last : m.start()])
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


def _long_string(token: str, level: int) -> str:
    body = token[level + 2 : -(level + 2)]
    # Lua drops a newline right after the opening bracket.
    if body[:2] in ("\r\n", "\n\r"):
        return body[2:]
    if body[:1] in ("\n", "\r"):
        return body[1:]
    return body


def _finish_table(fields: dict, count: int, keyed: bool) -> list | dict:
    if not keyed and len(fields) == count:
        return list(fields.values())  # inserted in the order 1..n
    if fields and all(type(k) is int for k in fields) and sorted(fields) == list(range(1, len(fields) + 1)):
        return [fields[k] for k in range(1, len(fields) + 1)]
    return fields or []


def _table_key(key: Any, position: int) -> Any:
    if key is None:
        raise LuaSyntaxError("table index is nil", position)
    if isinstance(key, float):
        if math.isnan(key):
            raise LuaSyntaxError("table index is NaN", position)
        if key.is_integer():
            return int(key)  # Lua 5.3: t[2.0] is t[2]
    return key


def loads(text: str, *, max_depth: int = MAX_DEPTH) -> LuaValue:
    """The value of a Lua literal such as Lightroom's `s = { ... }` (the assignment's name is dropped)."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, not {type(text).__name__}")
    # One pass, one loop iteration per token, no recursion: a catalog has 100,000s of develop texts, so this loop
    # is the reader's hot path (the `field` token reads most of Lightroom's `Key = value,` lines in one match).
    # Each open table is a frame on `stack`: [fields, positional count, keyed (not a plain list), key of the value
    # being read (or _BRACKETED while reading a `[key]`), position of that `[`].
    stack: list[list] = []
    state = _START
    negate = 0  # unary minus signs in front of the coming number
    result: LuaValue = None
    for m in _TOKEN.finditer(text):
        kind = m.lastindex
        value: Any
        separator = None
        if kind == _FIELDTOKEN:
            fkey, fint, ffloat, fstr, fword, fints, separator = m.group(*_FIELD_PARTS)
            if (
                state == _FIELD
                and fkey is not None
                and separator is not None
                and fints is None
                and fword != "nil"
                and fkey not in _KEYWORDS
            ):
                # The bulk of Lightroom's text, `Key = scalar,` inside a table: store it and read on.
                frame = stack[-1]
                frame[0][fkey] = (
                    int(fint)
                    if fint is not None
                    else float(ffloat)
                    if ffloat is not None
                    else fstr[1:-1]
                    if fstr is not None
                    else fword == "true"
                )
                frame[2] = True
                continue
            if fkey is not None:
                if state == _FIELD and fkey not in _KEYWORDS:
                    frame = stack[-1]
                    frame[2] = True
                    frame[3] = fkey
                elif state != _START or fkey in _KEYWORDS:  # at the start: an assignment such as `s = 5`
                    raise LuaSyntaxError(f"expected {_EXPECTED[state]}, found {_shown(fkey)}", m.start(kind))
            elif state == _FIELD:
                frame = stack[-1]
                frame[1] += 1
                frame[3] = frame[1]
            elif state != _VALUE and state != _START:
                raise LuaSyntaxError(f"expected {_EXPECTED[state]}, found {_shown(m.group(kind))}", m.start(kind))
            if fint is not None:
                value = int(fint)
            elif ffloat is not None:
                value = float(ffloat)
            elif fstr is not None:
                value = fstr[1:-1]
            elif fword is not None:
                value = _LITERAL_NAMES[fword]
            else:
                if len(stack) >= max_depth:
                    raise LuaSyntaxError(f"tables nested deeper than {max_depth}", m.start(_FIELD_PARTS[5]))
                value = [int(item) for item in fints[1:-1].split(",") if item and not item.isspace()]
            if negate and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise LuaSyntaxError("expected a number after '-'", m.start(kind))
        elif kind in _COMMENTS:
            continue
        elif state == _VALUE or state == _START or state == _FIELD:
            if state == _FIELD:
                if kind == _PUNCT and m.group(_PUNCT) == "}":
                    fields, count, keyed = stack.pop()[:3]
                    value = _finish_table(fields, count, keyed)
                    kind = 0  # handled: store the finished table below
                elif kind == _KEY:
                    key = m.group(_KEY)
                    if key in _KEYWORDS:
                        raise LuaSyntaxError(f"{_shown(key)} cannot name a field", m.start(kind))
                    frame = stack[-1]
                    frame[2] = True
                    frame[3] = key
                    state = _VALUE
                    continue
                elif kind == _OPEN:
                    frame = stack[-1]
                    frame[2] = True
                    frame[3] = _BRACKETED
                    frame[4] = m.start(kind)
                    state = _VALUE
                    continue
                elif kind == _NAME and m.group(_NAME) not in _LITERAL_NAMES:
                    # `name` then `=` with a comment between them (the key token covers plain whitespace only).
                    frame = stack[-1]
                    frame[2] = True
                    frame[3] = m.group(_NAME)
                    state = _NAME_EQUALS
                    continue
                else:
                    frame = stack[-1]
                    frame[1] += 1
                    frame[3] = frame[1]
            if kind == 0:
                pass
            elif kind == _INT:
                value = int(m.group(_INT))
            elif kind == _FLOAT:
                value = float(m.group(_FLOAT))
            elif kind == _STRING:
                token = m.group(_STRING)
                value = _unescape(token[1:-1], m.start(kind) + 1) if "\\" in token else token[1:-1]
            elif kind == _NAME and m.group(_NAME) in _LITERAL_NAMES:
                value = _LITERAL_NAMES[m.group(_NAME)]
            elif kind == _PUNCT and m.group(_PUNCT) == "{":
                if negate:
                    raise LuaSyntaxError("expected a number after '-'", m.start(kind))
                if len(stack) >= max_depth:
                    raise LuaSyntaxError(f"tables nested deeper than {max_depth}", m.start(kind))
                stack.append([{}, 0, False, None, 0])
                state = _FIELD
                continue
            elif kind == _MINUS:
                negate += 1
                state = _VALUE
                continue
            elif kind == _HEX:
                token = m.group(_HEX)
                lowered = token.lower()
                value = float.fromhex(token) if "." in lowered or "p" in lowered else int(token, 16)
            elif kind == _LONGSTRING:
                value = _long_string(m.group(_LONGSTRING), len(m.group("lseq")))
            elif kind == _KEY and state == _START and m.group(_KEY) not in _KEYWORDS:
                state = _VALUE  # the leading `s =` of Lightroom's text
                continue
            elif kind in _ERRORS:
                raise LuaSyntaxError(_ERRORS[kind], m.start(kind))
            elif kind == _NAME:
                raise LuaSyntaxError(f"expected a value, found the variable {_shown(m.group(_NAME))}", m.start(kind))
            else:
                raise LuaSyntaxError(f"expected a value, found {_shown(m.group(kind))}", m.start(kind))
            if negate and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise LuaSyntaxError("expected a number after '-'", m.start(kind))
        elif state == _SEPARATOR:
            if kind == _PUNCT:
                punct = m.group(_PUNCT)
                if punct == "," or punct == ";":
                    state = _FIELD
                    continue
                if punct != "}":
                    raise LuaSyntaxError(f"expected {_EXPECTED[state]}, found {punct!r}", m.start(kind))
                fields, count, keyed = stack.pop()[:3]
                value = _finish_table(fields, count, keyed)
            elif kind in _ERRORS:
                raise LuaSyntaxError(_ERRORS[kind], m.start(kind))
            else:
                raise LuaSyntaxError(f"expected {_EXPECTED[state]}, found {_shown(m.group(kind))}", m.start(kind))
        elif (state == _NAME_EQUALS or state == _KEY_EQUALS) and kind == _PUNCT and m.group(_PUNCT) == "=":
            state = _VALUE
            continue
        elif state == _KEY_CLOSE and kind == _PUNCT and m.group(_PUNCT) == "]":
            state = _KEY_EQUALS
            continue
        elif kind in _ERRORS:
            raise LuaSyntaxError(_ERRORS[kind], m.start(kind))
        else:
            raise LuaSyntaxError(f"expected {_EXPECTED[state]}, found {_shown(m.group(kind))}", m.start(kind))

        if negate:
            if negate % 2:
                value = -value
            negate = 0
        # A complete value: the result, a bracketed key, or the value of the innermost table's current field.
        if not stack:
            result = value
            state = _END
        elif stack[-1][3] is _BRACKETED:
            frame = stack[-1]
            frame[3] = _table_key(value, frame[4])
            state = _KEY_CLOSE
        else:
            frame = stack[-1]
            if value is None:
                frame[0].pop(frame[3], None)
                frame[2] = True
            else:
                frame[0][frame[3]] = value
            state = _SEPARATOR
        if separator is not None:
            if state != _SEPARATOR:
                raise LuaSyntaxError(f"expected {_EXPECTED[state]}, found {separator!r}", m.start(_FIELD_PARTS[6]))
            state = _FIELD
    if state != _END:
        raise LuaSyntaxError(f"expected {_EXPECTED[state]}, found end of input", len(text))
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
