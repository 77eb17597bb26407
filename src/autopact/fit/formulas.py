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
import math
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


# The most terms a formula may expand to (``(a + b + c)**3`` is 7 terms). patsy expands a formula's
# terms before anything can count them, in time quadratic in their number (here: 0.8 s for 1,024
# terms, 35 s for 16,384), so a formula of a few dozen names and a power would run for hours; a
# thousand terms is beyond any specification written by hand.
MAX_TERMS = 1_000
# The most numbers (rows x columns) one design matrix may hold: patsy builds it dense, as float64,
# and the estimator keeps copies of it (demeaned, in the instruments); 5e7 numbers are 400 MB, so
# an interaction of two many-level categoricals (``C(a):C(b)``) is refused before it is allocated.
MAX_DESIGN_NUMBERS = 50_000_000


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
        terms = _terms(tree.body)
    except RecursionError:
        _refuse(field, formula, "it is nested too deeply")
    if terms > MAX_TERMS:
        _refuse(field, formula, f"it expands to more than {MAX_TERMS:,} terms (MAX_TERMS: patsy's expansion takes "
                "time quadratic in the terms)")
    return formula


def _terms(node: ast.AST) -> int:
    """An upper bound on the terms patsy expands a checked formula to: ``a + b`` adds, ``a:b`` multiplies,
    ``a * b`` is ``a + b + a:b``, ``a / b`` is ``a + a:b``, ``(...)**n`` is every interaction of up to
    n of the terms inside; a name, number or call is one term. Capped just above MAX_TERMS."""
    cap = MAX_TERMS + 1
    if isinstance(node, ast.UnaryOp):
        return _terms(node.operand)
    if not isinstance(node, ast.BinOp):
        return 1
    left = _terms(node.left)
    if isinstance(node.op, ast.Pow):
        order = node.right.value if isinstance(node.right, ast.Constant) and isinstance(node.right.value, int) else left
        return min(cap, sum(math.comb(left, k) for k in range(1, min(max(order, 1), left) + 1))) if left < 64 else cap
    right = _terms(node.right)
    if isinstance(node.op, ast.Add):
        return min(cap, left + right)
    if isinstance(node.op, ast.Sub):
        return left
    if isinstance(node.op, ast.MatMult):
        return min(cap, left * right)
    if isinstance(node.op, ast.Div):
        return min(cap, left + left * right)
    return min(cap, left + right + left * right)  # '*'


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
    _check_missing(formula, data, field, table)
    _check_size(formula, data, field, table)
    constants: set[float] = set()  # patsy evaluates each factor more than once

    def identity(value: Any) -> Any:  # patsy's I(), with a number broadcast to a column
        if np.ndim(value) == 0:
            constants.add(float(value))
            return np.full(len(data), float(value))
        return value

    environment = patsy.EvalEnvironment([{**FUNCTIONS, "I": identity}, _NO_BUILTINS])
    try:  # NA_action raise: patsy's default drops rows, and the matrix no longer lines up with the data
        matrix = patsy.dmatrix(formula, data, return_type="dataframe", eval_env=environment, NA_action="raise")
    except (patsy.PatsyError, SyntaxError, TypeError, ValueError, ArithmeticError) as error:
        raise FormulaError(f"{field}: formula {formula!r} cannot be evaluated on the {table}: "
                           f"{' '.join(str(error).split())[:200]}") from None
    if constants and ("Intercept" in matrix.columns or len(constants) > 1):
        raise FormulaError(f"{field}: formula {formula!r} has more than one constant term (an intercept and I() of a "
                           "number, or two of them); PyBLP allows one")
    return matrix


def _columns_named(formula: str, data: pd.DataFrame) -> list[str]:
    """The data columns a checked formula names, in order of appearance."""
    tree = ast.parse(formula.replace(":", "@").strip(), mode="eval")
    functions = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    names = [node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and id(node) not in functions]
    return [name for name in dict.fromkeys(names) if name in data.columns]


def _check_missing(formula: str, data: pd.DataFrame, field: str, table: str) -> None:
    """A column the formula uses may not have missing values: patsy would drop those rows, and the
    matrix would no longer line up with the data's other columns (shares, prices, markets)."""
    for name in _columns_named(formula, data):
        missing = data[name].isna().to_numpy()
        if missing.any():
            label = data.index[int(missing.argmax())]  # a CSV's row number (a market's subset keeps them)
            where = f"CSV line {label + 2}" if isinstance(label, (int, np.integer)) else f"row {label!r}"
            raise FormulaError(f"{field}: formula {formula!r}: the {table}' column {name!r} has {int(missing.sum()):,} "
                               f"missing value(s), the first on {where}; fill or drop them first")


def _levels(code: str, data: pd.DataFrame) -> int:
    """Columns one patsy factor can take at most: the distinct values of a categorical (``C(name)``,
    or a column of text) and at most one per row for ``C()`` of an expression; 1 for a number."""
    inner = code[2:-1].strip() if code.startswith("C(") and code.endswith(")") else None
    name = inner if inner is not None else code.strip()
    if name in data.columns and (inner is not None or not pd.api.types.is_numeric_dtype(data[name])
                                 or pd.api.types.is_bool_dtype(data[name])):
        return max(1, int(data[name].nunique()))
    return max(1, len(data)) if inner is not None else 1


def _check_size(formula: str, data: pd.DataFrame, field: str, table: str) -> None:
    """Refuse, before patsy allocates it, a design matrix of more columns than the data have rows (it
    cannot be estimated: X'Z W Z'X is singular) or of more than MAX_DESIGN_NUMBERS numbers."""
    try:
        terms = patsy.ModelDesc.from_formula(formula).rhs_termlist
    except patsy.PatsyError:
        return  # not a formula patsy reads: its own error follows, in design_matrix
    columns, widest = 0, ("", 1)
    for term in terms:
        width = math.prod(_levels(factor.code, data) for factor in term.factors)
        columns += width
        if width > widest[1]:
            widest = (":".join(factor.code for factor in term.factors), width)
    where = f" (the term {widest[0]} alone has up to {widest[1]:,})" if widest[1] > 1 else ""
    rows = len(data)
    if columns > max(rows, 1):
        raise FormulaError(f"{field}: formula {formula!r} has up to {columns:,} columns{where} but the {table} have "
                           f"{rows:,} rows: more columns than rows cannot be estimated")
    if rows * columns > MAX_DESIGN_NUMBERS:
        raise FormulaError(f"{field}: formula {formula!r} has up to {columns:,} columns{where} over {rows:,} rows, more "
                           f"than {MAX_DESIGN_NUMBERS:,} numbers (MAX_DESIGN_NUMBERS: patsy builds the matrix in memory)")
