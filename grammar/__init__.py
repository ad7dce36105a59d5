"""JSON Schema and Pydantic to llama.cpp GBNF grammars."""
