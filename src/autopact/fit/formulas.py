"""Formulas are data, never code: a whitelist check before any formula reaches patsy.

patsy evaluates each term of a formula as Python, so a formula from a config or a saved result
could otherwise run anything (``I(__import__('os').system(...))``). ``check_formula`` parses
the formula with Python's ``ast`` module and walks the whole tree against a whitelist:

- names: columns of the data (when the columns are known) and the functions below;
- numbers (int or float literals);
- the operators ``+ - * / **`` (binary), unary ``-`` and ``+``, parentheses, and patsy's ``:``
  interaction (read as Python's ``@`` for parsing; a literal ``@`` is refused);
- calls, with exactly one positional argument, of ``log``, ``exp``, ``sqrt`` (numpy's, as in
  PyBLP's formulations) and patsy's ``I(...)`` (arithmetic) and ``C(...)`` (categorical).

Everything else is refused with one line naming the field and the formula: attribute access,
subscripts, strings, lambdas, comprehensions, keyword arguments, calls of other names, names
starting with ``__``, unknown names and characters outside ``A-Za-z0-9_ +-*/():.`` and tabs (so no
quotes, comments, backslashes or line breaks). A power of two number literals (``9 ** 9 ** 9``)
is refused too: Python would compute it exactly, without bound. ``0 +``, ``1 +`` and ``- 1``
intercept terms are numbers and operators.

``design_matrix`` then hands the checked formula to patsy with an evaluation environment that
holds only the whitelisted functions and shadows every Python builtin (defence in depth: a term
that somehow got past the check finds no ``__import__``, ``open`` or ``eval``).
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import patsy

# functions formulas may call, as in PyBLP's formulations: log(hpwt), exp(x), sqrt(x)
FUNCTIONS = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt}
PATSY_FUNCTIONS = ("I", "C")  # patsy's own: I(...) arithmetic, C(...) a categorical
ALLOWED = ("the data's columns, numbers, + - * / ** : ( ) and "
           + ", ".join(f"{name}(...)" for name in (*FUNCTIONS, *PATSY_FUNCTIONS)))
_CHARACTERS = re.compile(r"[A-Za-z0-9_ \t+\-*/():.]*")  # no '@': ':' is parsed as '@' below
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.MatMult)  # MatMult: patsy's ':'


class FormulaError(ValueError):
    """A formula outside the whitelist (see the module docstring)."""


class _Refused:
    """Stands in for a Python builtin in patsy's evaluation environment: calling it fails."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise FormulaError(f"{self.name} is not allowed in a formula")


# every builtin name (open, eval, __import__, ...) shadowed; patsy looks names up here before Python's builtins
_NO_BUILTINS = {name: _Refused(name) for name in dir(builtins)}
ENVIRONMENT = patsy.EvalEnvironment([dict(FUNCTIONS), _NO_BUILTINS])


def _refuse(field: str, formula: Any, why: str) -> NoReturn:
    raise FormulaError(f"{field}: formula {formula!r} is refused: {why} (allowed: {ALLOWED})")


def _short(node: ast.AST, limit: int = 40) -> str:
    """A node's source, cut to ``limit`` characters for a one-line message."""
    text = ast.unparse(node)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_number(node: ast.AST) -> bool:
    """A literal number, possibly signed and parenthesised, or arithmetic of such numbers."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return _is_number(node.operand)
    return isinstance(node, ast.BinOp) and _is_number(node.left) and _is_number(node.right)


def check_formula(formula: Any, field: str, columns: Iterable[str] | None = None, table: str = "data") -> str:
    """``formula`` if it passes the whitelist, else a ``FormulaError`` naming ``field`` and the formula.

    With ``columns`` every plain name must be one of them (``table`` names the data in the
    message); without, names are only checked against ``__`` (a syntax check, before the data are read).
    """
    if not isinstance(formula, str):
        raise FormulaError(f"{field}: a formula must be a string, got {formula!r}")
    if not _CHARACTERS.fullmatch(formula):
        bad = next(c for c in formula if not _CHARACTERS.fullmatch(c))
        _refuse(field, formula, f"the character {bad!r} is not allowed")
    try:
        tree = ast.parse(formula.replace(":", "@").strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        _refuse(field, formula, "it is not a formula (a syntax error)")
    try:
        _check_tree(tree, field, formula, None if columns is None else {str(c) for c in columns}, table)
    except RecursionError:
        _refuse(field, formula, "it is nested too deeply")
    return formula


def _check_tree(tree: ast.Expression, field: str, formula: str, known: set[str] | None, table: str) -> None:
    """Every node of the parsed formula against the whitelist (see ``check_formula``)."""
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if any(isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.MatMult)
                   for argument in node.args for inner in ast.walk(argument)):
                _refuse(field, formula, "':' joins terms; it is not allowed inside a function's argument")
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in FUNCTIONS and name not in PATSY_FUNCTIONS:
                what = (repr(name) if name else f"the attribute .{node.func.attr}" if isinstance(node.func, ast.Attribute)
                        else f"an expression ({_short(node.func)})")
                _refuse(field, formula, f"calling {what} is not allowed")
            if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
                _refuse(field, formula, f"{name}(...) takes exactly one argument, without keywords")
            called.add(id(node.func))
        elif isinstance(node, ast.Name):
            if node.id.startswith("__"):
                _refuse(field, formula, f"the name {node.id!r} is not allowed")
            if id(node) not in called and known is not None and node.id not in known:
                _refuse(field, formula, f"the {table} have no column {node.id!r}")
        elif isinstance(node, ast.Constant):
            if type(node.value) not in (int, float):
                _refuse(field, formula, f"the literal {node.value!r} is not a number")
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, _OPERATORS):
                _refuse(field, formula, f"the operator {type(node.op).__name__} is not allowed")
            if isinstance(node.op, ast.Pow) and _is_number(node.left) and _is_number(node.right):
                _refuse(field, formula, f"a power of two numbers ({_short(node)}) is not allowed")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.UAdd, ast.USub)):
                _refuse(field, formula, f"the operator {type(node.op).__name__} is not allowed")
        elif not isinstance(node, (ast.Expression, ast.Load, *_OPERATORS, ast.UAdd, ast.USub)):
            _refuse(field, formula, f"{type(node).__name__} ({_short(node)}) is not allowed")


def design_matrix(formula: str, data: pd.DataFrame, field: str, table: str = "data") -> pd.DataFrame:
    """patsy's design matrix of a formula that passed ``check_formula`` against ``data``'s columns,
    evaluated with only the whitelisted functions in scope.

    ``I()`` of a number (``I(1)``) is a constant column, as in PyBLP, so ``0 + I(1)`` is a named
    intercept; a formula holds at most one constant term (PyBLP refuses ``1 + I(1)`` too).
    """
    check_formula(formula, field, data.columns, table)
    constants: set[float] = set()  # patsy evaluates each factor more than once

    def identity(value: Any) -> Any:  # patsy's I(), with a number broadcast to a column
        if np.ndim(value) == 0:
            constants.add(float(value))
            return np.full(len(data), float(value))
        return value

    environment = patsy.EvalEnvironment([{**FUNCTIONS, "I": identity}, _NO_BUILTINS])
    try:
        matrix = patsy.dmatrix(formula, data, return_type="dataframe", eval_env=environment)
    except (patsy.PatsyError, SyntaxError, TypeError, ValueError, ArithmeticError) as error:
        raise FormulaError(f"{field}: formula {formula!r} cannot be evaluated on the {table}: "
                           f"{' '.join(str(error).split())[:200]}") from None
    if constants and ("Intercept" in matrix.columns or len(constants) > 1):
        raise FormulaError(f"{field}: formula {formula!r} has more than one constant term (an intercept and I() of a "
                           "number, or two of them); PyBLP allows one")
    return matrix
