import grammar

EXPECTED = [
    "JSON_OBJECT_GBNF",
    "GrammarError",
    "GrammarSyntaxError",
    "UnsupportedSchemaError",
    "formats_assert",
    "json_object_gbnf",
    "model_to_gbnf",
    "schema_to_gbnf",
    "schema_to_gbnf_cached",
    "validate_gbnf",
]


def test_all_is_sorted_and_complete() -> None:
    assert grammar.__all__ == EXPECTED
    public = {n for n in dir(grammar) if not n.startswith("_")}
    assert public == set(EXPECTED)


def test_exports_show_the_public_module() -> None:
    for name in grammar.__all__:
        obj = getattr(grammar, name)
        if not isinstance(obj, str):
            assert obj.__module__ == "grammar", name


def test_error_tree() -> None:
    assert issubclass(grammar.GrammarSyntaxError, grammar.GrammarError)
    assert issubclass(grammar.UnsupportedSchemaError, grammar.GrammarError)
    assert issubclass(grammar.UnsupportedSchemaError, ValueError)
