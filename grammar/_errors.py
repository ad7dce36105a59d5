"""The grammar error tree.

GrammarError                      base of everything raised by this package
├── GrammarSyntaxError            GBNF text llama.cpp would refuse or hang on (also ValueError)
└── UnsupportedSchemaError        a schema keyword no exact grammar exists for (also ValueError)
"""

from __future__ import annotations


class GrammarError(Exception):
    """Base class of every error raised by the grammar package."""


class GrammarSyntaxError(GrammarError, ValueError):
    """Raised when GBNF text breaks llama.cpp's grammar rules; `.line` and `.column` are 1-based."""

    def __init__(self, message: str, line: int, column: int, context: str = "") -> None:
        self.message = message
        self.line = line
        self.column = column
        self.context = context
        where = f" at line {line} column {column}"
        caret = f"\n{context}\n{' ' * (column - 1)}^" if context else ""
        super().__init__(f"{message}{where}{caret}")


class UnsupportedSchemaError(GrammarError, ValueError):
    """Raised when the schema at `.pointer` uses `.keyword` in a way no exact grammar exists for."""

    def __init__(self, keyword: str, pointer: str, reason: str) -> None:
        self.keyword = keyword
        self.pointer = pointer
        self.reason = reason
        super().__init__(f"{keyword!r} at {pointer or '#'}: {reason}")
