import pytest

from grammar import GrammarSyntaxError, validate_gbnf


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ('root ::= ("a" | "b"', 1, 10, "expecting ')'"),
        ("root ::= foo", 1, 10, "undefined rule 'foo'"),
        ('start ::= "a"', 1, 14, "no 'root' rule"),
        ('root ::= my_rule\nmy_rule ::= "a"', 1, 12, "expecting newline"),
        ('root ::= "a"\nx ::= "\\q"', 2, 8, "unknown escape"),
        ('root ::= root "a" | "a"', 1, 1, "left recursion"),
        ('root = "a"', 1, 6, "expecting '::='"),
        ('root ::= "abc', 1, 10, "unterminated string"),
        ('root ::= * "a"', 1, 10, "expecting an item"),
        ('root ::= "a"{2001}', 1, 13, "above 2000"),
        ('root ::= "a"{0,2001}', 1, 13, "above 2000"),
        ('root ::= "a"{3,2}', 1, 13, "n < m"),
        ('root ::= "a"\n  | "b"', 2, 3, "expecting a rule name"),
        ("root ::= [a-z\n", 1, 10, "unterminated character class"),
        ('root ::= ("a"{0,50}){50}', 1, 21, "beyond 2000"),
        ('root ::= x root "a" | "b"\nx ::= y\ny ::= | "c"', 1, 1, "left recursion"),
        ('root ::= "a"\nroot ::= <tok>', 2, 10, "vocabulary"),
    ],
)
def test_refused_grammars_report_line_and_column(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(GrammarSyntaxError) as info:
        validate_gbnf(text)
    assert (info.value.line, info.value.column) == (line, column)
    assert message in info.value.message
    assert "^" in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        'root ::= ("yes" | "no")',
        'root ::= [^"\\\\\\x00-\\x1F] ( # comment\n "a"\n | "b" )\n',
        'root ::= "a" root | "b"',
        'root ::= | "x"',
        'root ::= [0-9]{2,4} "b"{0,0} . [\\u00e9\\]\\-]',
        'root ::= item{2000}\nitem ::= "a"',
    ],
)
def test_llama_cpp_grammars_pass(text: str) -> None:
    validate_gbnf(text)


def test_deep_parentheses_are_refused_not_recursed() -> None:
    text = "root ::= " + "(" * 5000 + '"a"' + ")" * 5000
    with pytest.raises(GrammarSyntaxError, match="nested deeper"):
        validate_gbnf(text)
