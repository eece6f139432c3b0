"""The Lua table-literal parser (extractor/lua_table.py) on Lightroom's develop texts and on the literal subset."""

import hashlib
import sqlite3
from pathlib import Path

import pytest

from cropstyle.extractor.lua_table import MAX_DEPTH, LuaSyntaxError, dumps, loads

REAL_SHA256 = "1cc8dbf74ec512bc0e4203ad46d114e4afff17a305ca983e35547cdc1f35030e"


@pytest.fixture(scope="module")
def real_texts(real_catalog) -> list[str]:
    """The develop texts of the real catalog (../shared), which is checked unmodified afterwards."""
    yield _develop_texts(real_catalog)
    assert hashlib.sha256(real_catalog.read_bytes()).hexdigest() == REAL_SHA256


def _develop_texts(catalog: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{catalog}?immutable=1", uri=True)
    try:
        return [text for (text,) in connection.execute("SELECT text FROM Adobe_imageDevelopSettings ORDER BY id_local")]
    finally:
        connection.close()


def test_real_develop_text(real_texts):
    settings = loads(real_texts[0])
    assert len(settings) == 62
    assert settings["AutoGrayscaleMix"] is True
    assert settings["ConvertToGrayscale"] is False
    assert settings["CameraProfile"] == "Adobe Standard"
    assert settings["Temperature"] == 2900 and type(settings["Temperature"]) is int
    assert settings["UprightCenterNormX"] == 0.5
    assert settings["ToneCurve"] == [0, 0, 32, 22, 64, 56, 128, 128, 192, 196, 255, 255]
    assert settings["RedEyeInfo"] == []
    assert "CropLeft" not in settings


def test_dumps_writes_lightrooms_layout_exactly(real_texts):
    for text in real_texts:
        assert dumps(loads(text)) + "\n" == text


def test_crop_lines_as_lightroom_writes_them():
    text = (
        "s = { ConvertToGrayscale = false,\nCropAngle = -2.18554,\nCropBottom = 0.945854,\nCropLeft = 0.01504,\n"
        "CropRight = 0.98496,\nCropTop = 0.054146,\nExposure = 0 }\n"
    )
    assert loads(text) == {
        "ConvertToGrayscale": False,
        "CropAngle": -2.18554,
        "CropBottom": 0.945854,
        "CropLeft": 0.01504,
        "CropRight": 0.98496,
        "CropTop": 0.054146,
        "Exposure": 0,
    }


@pytest.mark.parametrize(
    "literal, value",
    [
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("- 7", -7),
        ("- -7", 7),
        ("3.25", 3.25),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("1E-2", 0.01),
        ("-2.5e+2", -250.0),
        ("0x1F", 31),
        ("0XfF", 255),
        ("-0x10", -16),
        ("0x1.8p1", 3.0),
        ("0x.8", 0.5),
        ("true", True),
        ("false", False),
        ("nil", None),
    ],
)
def test_scalars(literal, value):
    result = loads(literal)
    assert result == value and type(result) is type(value)
    assert loads(f"s = {{ x = {literal} }}") == ({"x": value} if value is not None else [])


@pytest.mark.parametrize(
    "literal, value",
    [
        ('"plain"', "plain"),
        ("'single'", "single"),
        ('"say \\"hi\\""', 'say "hi"'),
        ("'it\\'s'", "it's"),
        ('"a\\nb\\tc\\\\d"', "a\nb\tc\\d"),
        ('"\\65\\066\\x43"', "ABC"),
        ('"\\195\\169t\\195\\169"', "été"),
        ('"\\u{263A}"', "\u263a"),
        ('"a\\z   \n  b"', "ab"),
        ('"line\\\nnext"', "line\nnext"),
        ('"é ☺"', "é ☺"),
        ("[[long]]", "long"),
        ("[[\nfirst newline dropped]]", "first newline dropped"),
        ("[==[a]]b]=]c]==]", "a]]b]=]c"),
        ('"{ CropLeft = 0.5, }"', "{ CropLeft = 0.5, }"),
    ],
)
def test_strings(literal, value):
    assert loads(literal) == value


def test_tables_lists_and_dicts():
    assert loads("{ 1, 2, 3 }") == [1, 2, 3]
    assert loads("{  }") == []
    assert loads("{ [1] = 'a', [2] = 'b' }") == ["a", "b"]
    assert loads("{ x = 1, 2, 3 }") == {"x": 1, 1: 2, 2: 3}
    assert loads("{ 1, nil, 3 }") == {1: 1, 3: 3}
    assert loads("{ a = 1, a = nil }") == []
    assert loads("{ a = 1; b = 2; }") == {"a": 1, "b": 2}
    assert loads('{ ["with space"] = 1, [2.0] = "two", [true] = "yes", [-1] = 0 }') == {
        "with space": 1,
        2: "two",
        True: "yes",
        -1: 0,
    }
    assert loads("{ {}, { 1 }, { x = 'y' } }") == [[], [1], {"x": "y"}]
    assert loads("{ 1.5, -2, 0x10 }") == [1.5, -2, 16]


def test_nested_tables_like_lightroom_masks():
    text = """s = { PaintBasedCorrections = { { CorrectionActive = true,
CorrectionMasks = { { CenterWeight = 0, Dabs = { "d 0.259114 0.822373", "r 0.065194" }, What = "Mask/Paint" } },
LocalExposure2012 = -0.18175 } },
ToneCurvePV2012 = { 0, 0, 255, 255 } }"""
    settings = loads(text)
    correction = settings["PaintBasedCorrections"][0]
    assert correction["CorrectionActive"] is True
    assert correction["LocalExposure2012"] == -0.18175
    assert correction["CorrectionMasks"][0]["Dabs"] == ["d 0.259114 0.822373", "r 0.065194"]
    assert settings["ToneCurvePV2012"] == [0, 0, 255, 255]


def test_comments_and_whitespace():
    text = "-- header\ns = { --[[ block\n comment ]] a = 1, --[==[ level ]] still ]==] b --c\n = 2, -- end\n}\n\n"
    assert loads(text) == {"a": 1, "b": 2}


def test_catalog_variables_text():
    text = (
        "filter = {\n\tcolumnBrowserActive = false,\n\tcolumnBrowserDesc = {\n"
        '\t\t{\n\t\t\tcriteria = "dateHierarchy",\n\t\t},\n\t},\n}\n'
    )
    assert loads(text) == {"columnBrowserActive": False, "columnBrowserDesc": [{"criteria": "dateHierarchy"}]}


@pytest.mark.parametrize(
    "text, position, message",
    [
        ("s = { CropLeft = 0.1,", 21, "found end of input"),
        ("s = { CropLeft = 0.1", 20, "found end of input"),
        ("s = { a = 'abc", 10, "unfinished string"),
        ('s = { a = "abc\n" }', 10, "unfinished string"),
        ("s = { a = [[abc", 10, "unfinished long string"),
        ("s = { --[[ abc }", 6, "unfinished long comment"),
        ("s = { a = 1 } x", 14, "expected the end of input"),
        ("s = { a = b }", 10, "variable 'b'"),
        ("{ 1 2 }", 4, "expected ',' or '}'"),
        ("{ 3abc }", 2, "malformed number"),
        ("{ 1..2 }", 2, "malformed number"),
        ("{ a = -{} }", 7, "expected a number after '-'"),
        ("{ a = -'x' }", 7, "expected a number after '-'"),
        ("{ [nil] = 1 }", 2, "table index is nil"),
        ("{ [1 = 2 }", 5, "expected ']'"),
        ('{ a = "\\q" }', 7, "invalid escape sequence"),
        ('{ a = "\\300" }', 7, "too large"),
        ("{ a = 1 = 2 }", 8, "expected ',' or '}'"),
        ("{ true = 1 }", 2, "expected a table field"),
        ("{ , }", 2, "expected a value"),
        ("{ a = }", 6, "expected a value"),
        ("{ a = @ }", 6, "expected a value"),
        ("", 0, "found end of input"),
        ("s =", 3, "found end of input"),
    ],
)
def test_syntax_errors_name_the_position(text, position, message):
    with pytest.raises(LuaSyntaxError) as caught:
        loads(text)
    assert caught.value.position == position
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"Lua syntax error at {position}: ")


def test_every_truncation_of_a_real_text_is_an_error_not_a_crash(real_texts):
    text = real_texts[0].rstrip()
    for end in range(0, len(text) - 1, 7):
        with pytest.raises(LuaSyntaxError):
            loads(text[:end])


def test_pathological_nesting_is_a_syntax_error_not_recursion_error():
    with pytest.raises(LuaSyntaxError, match=f"nested deeper than {MAX_DEPTH}"):
        loads("s = " + "{ " * 100_000 + "}" * 100_000)
    with pytest.raises(LuaSyntaxError, match="nested deeper than 3"):
        loads("{ { { { 1 } } } }", max_depth=3)
    assert loads("{ { { 1 } } }", max_depth=3) == [[[1]]]
    deep = "{ " * MAX_DEPTH + "}" * MAX_DEPTH
    assert loads(deep) is not None


def test_not_text():
    with pytest.raises(TypeError):
        loads(b"s = {}")


def test_dumps_round_trip_and_format():
    value = {"b": [1, 2.5, -3], "a": {"nested": True, 1: "x"}, "c": 'q"uote\\\n', "e": [], "Key With Space": 0.0}
    text = dumps(value)
    assert loads(text) == {**value, "Key With Space": 0}
    assert text.startswith('s = { ["Key With Space"] = 0,\na = { [1] = "x",\nnested = true },\nb = { 1,\n2.5,\n-3 },\n')
    assert dumps({"CropLeft": 0.1, "CropAngle": -2.18554}) == "s = { CropAngle = -2.18554,\nCropLeft = 0.1 }"
    assert dumps([], name=None) == "{  }"
    with pytest.raises(ValueError):
        dumps({"x": float("nan")})
