"""What users hand autopact (scenario, sweep and estimation-config files, CSVs, ``--set`` values),
read within limits: a file size, a YAML node count, finite numbers, plausible prices and short
error messages.

Why limits: a YAML alias can stand for a whole subtree, so a few hundred bytes with nested
aliases ("billion laughs") expand to billions of nodes, and every later step (validation, error
messages, JSON output) walks the expanded value. A number that is not finite (YAML ``.nan``,
``.inf``, a CSV ``inf``) passes ``>=`` and ``<=`` checks unnoticed (NaN compares false both ways)
and ends up in sums, shares and JSON. A price far beyond any car's is a unit error (cents, or
another currency), and it pushes the equilibrium solver outside the range it converges in.
"""

from __future__ import annotations


import math
import os
import re
import reprlib
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

# Input files are hand-written YAML of a few kilobytes (the largest bundled scenario is about 3 kB);
# a megabyte is far beyond any real one and keeps parsing and validation under a second or two.
MAX_INPUT_BYTES = 1_000_000
# Nodes of a YAML document once its aliases are expanded. The bundled files have at most about 200; the
# cap stops alias bombs, whose expansion (not their text) is what costs memory and time.
MAX_YAML_NODES = 100_000
# A ceiling on any price or marginal cost, in 2025 dollars: far above any series-production light
# vehicle, so a value beyond it is a unit error (cents, another currency, a typo), not a car; the
# equilibrium solver also loses precision there (a share of exp(-alpha p) underflows).
MAX_PRICE_USD = 10_000_000.0
PRICE_CEILING_REASON = ("MAX_PRICE_USD, $10,000,000: far above any series-production light vehicle, so a price "
                        "beyond it is a unit error (cents, another currency), not a car")
# The most evaluations (sweep points x (1 + draws), or draws) one run may plan: the jobs are planned
# in memory before any runs, and the bound is the one sweeps already had on sampled points.
MAX_EVALUATIONS = 100_000
# The most lever values one sweep may set (points x levers): the Latin hypercube design holds them all
# as numbers and every point's scenario is built and validated from them before any run, so a sample
# of 100,000 points over 20,000 levers (2e9 numbers, 16 GB) would exhaust memory before the first
# check; a million is ten levers at the most points a sweep may plan (MAX_EVALUATIONS).
MAX_LEVER_VALUES = 1_000_000
# The largest seed: the results store keeps a run's seed in a DuckDB BIGINT (signed 64-bit), so a
# larger one fails at the insert, after the run. numpy's default_rng, which every draw uses, takes
# any non-negative integer; the household draws' seed is held to the same bound.
MAX_SEED = 2**63 - 1

_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 60, 60, 40
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4
_SHORT.maxlevel = 2


class Strict(BaseModel):
    """Base of the input schemas: unknown fields refused, values frozen, NaN and infinities refused
    in every float field (``allow_inf_nan=False``), however deeply nested."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# A number written as text (``--set``, ``--fix``, a CSV cell pandas left as text): ASCII digits in
# decimal or exponent notation. Python's float() also reads other scripts' digits ("١٢" is 12, "１２"
# too), underscores ("1_000") and "inf" or "nan", none of which a number in an input file should be.
_DECIMAL = re.compile(r"\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*")


def decimal(text: str) -> float | None:
    """``text`` as a float when it is a plain ASCII decimal number (see ``_DECIMAL``), else None."""
    return float(text) if isinstance(text, str) and _DECIMAL.fullmatch(text) else None


def check_seed(value: object, field: str) -> int:
    """``value`` if it is a whole number from 0 to MAX_SEED, else a ValueError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ValueError(f"{field}: a seed must be a whole number from 0 to 2**63 - 1 (MAX_SEED: the results store "
                         f"keeps seeds as 64-bit integers), got {shown(value)}")
    return value


def clipped(text: str, limit: int = 80) -> str:
    """A name for a message, cut to ``limit`` characters (unlike ``shown``, without quotes), on one line:
    a character that does not print (a newline in a variant's label or a mapping's key) is written as
    its escape."""
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shown(value: Any) -> str:
    """``repr(value)`` cut to about 60 characters: error messages never print a huge input whole
    (``reprlib`` does not build the full text first, so an alias-expanded value costs nothing)."""
    return _SHORT.repr(value)


def first_error(error: ValidationError, label: str) -> str:
    """One line for the first problem pydantic found: ``label: field.path: message (value: ...)``."""
    first = error.errors(include_url=False)[0]
    where = ".".join(clipped(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    limit = (first.get("ctx") or {}).get("le", (first.get("ctx") or {}).get("ge"))
    if first["type"] in ("less_than_equal", "greater_than_equal") and limit in (MAX_PRICE_USD, -MAX_PRICE_USD):
        message += f" ({PRICE_CEILING_REASON})"
    value = first.get("input")
    detail = "" if isinstance(value, dict) or first["type"] == "missing" else f" (value: {shown(value)})"
    if detail and shown(value) in message:  # a validator's own message already names the value
        detail = ""
    return f"{label}: {where}: {message}{detail}"


# Plain scalars that YAML 1.2's core schema reads as numbers or booleans. PyYAML reads YAML 1.1, where
# 1:30 is 90 (base 60), 0x10 is 16, 017 is 15 (octal), 1_000 is 1000 and yes, no, on, off are
# booleans, while YAML 1.2 readers (and people) read them otherwise: such a value is refused rather
# than guessed (quoted, it is text).
_INT_12 = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT_12 = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
_BOOL_12 = ("true", "True", "TRUE", "false", "False", "FALSE")
_LOOSE = {"tag:yaml.org,2002:int": (_INT_12.fullmatch, "integer"), "tag:yaml.org,2002:float": (_FLOAT_12.fullmatch, "number"),
          "tag:yaml.org,2002:bool": (_BOOL_12.__contains__, "boolean")}


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a document whose alias-expanded node count exceeds
    MAX_YAML_NODES or whose aliases refer to themselves, before constructing any Python value; a
    number or boolean written in a form only YAML 1.1 reads so (``1:30``, ``0x10``, ``yes``); and a
    key given twice in one mapping (YAML keeps the last silently)."""

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        _check_expansion(node)
        return node

    def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:
        node = super().compose_scalar_node(anchor)
        rule = _LOOSE.get(node.tag) if node.style is None else None  # plain (unquoted) scalars only
        if rule is not None and not rule[0](node.value):
            raise YamlLimitError(f"line {node.start_mark.line + 1}: {shown(node.value)} is a YAML 1.1 {rule[1]} "
                                 "that YAML 1.2 reads as text; write a plain decimal number (or true/false), "
                                 "or quote it for text")
        return node

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                line = key.start_mark.line + 1
                if (key.tag, key.value) in seen:
                    raise YamlLimitError(f"line {line}: the key {shown(key.value)} is given twice in one mapping "
                                         f"(first on line {seen[key.tag, key.value]}); YAML would keep only the last, "
                                         "so give it once")
                seen[key.tag, key.value] = line
        return super().construct_mapping(node, deep=deep)


class YamlLimitError(yaml.YAMLError):
    """A YAML document beyond the node limit, with a recursive alias, a YAML 1.1-only number or
    boolean, or a key given twice."""


def _check_expansion(root: yaml.Node) -> None:
    """Count the nodes of ``root`` with every alias expanded, without expanding any: each distinct
    node's expanded size is computed once (a node reached through an alias is the same object)."""
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in size:
            continue
        children = _children(node)
        if children_done:
            open_nodes.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in children)
            if size[key] > MAX_YAML_NODES:
                raise YamlLimitError(f"more than {MAX_YAML_NODES:,} values once its aliases are expanded "
                                     "(an alias bomb?); write the values out instead")
            continue
        if key in open_nodes:
            raise YamlLimitError("an alias refers to a value that contains it (a recursive alias)")
        open_nodes.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                raise YamlLimitError("an alias refers to a value that contains it (a recursive alias)")
            stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_regular_file(path: Path, label: str, error: type[Exception]) -> os.stat_result:
    """``path``'s status when it is a regular file; otherwise an ``error`` naming ``label``: a FIFO,
    socket or device would block the read or never end (inputs are files), and a folder is no file.
    A path that does not exist or cannot be reached raises its OSError (the caller's to word)."""
    info = Path(path).stat()
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{label}: {path} is a folder; give a file")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{label}: {path} is not a regular file (a pipe, socket or device); give a file")
    return info


def load_yaml(path: Path, error: type[Exception]) -> Any:
    """The YAML document in ``path``, refused with one line (an ``error``) when the file exceeds
    MAX_INPUT_BYTES (checked before reading), is not valid YAML, nests too deeply, or expands its
    aliases beyond MAX_YAML_NODES values. A file that cannot be read raises its OSError."""
    path = Path(path)
    info = path.stat()  # an OSError (a folder, no permission) is the caller's: the CLI makes it one line
    size = info.st_size
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        # a FIFO, socket or device would block the read or never end: inputs are files
        raise error(f"{path.name}: not a regular file (a pipe, socket or device); give a file")
    if size > MAX_INPUT_BYTES:
        raise error(f"{path.name}: {size:,} bytes; input files are limited to {MAX_INPUT_BYTES:,} bytes")
    text = path.read_bytes()
    try:
        return yaml.load(text, Loader=_LimitedLoader)  # noqa: S506 - a SafeLoader subclass
    except YamlLimitError as problem:
        raise error(f"{path.name}: refused: {problem}") from None
    except yaml.YAMLError as problem:
        raise error(f"{path.name}: not valid YAML: {_one_line(problem)}") from None
    except RecursionError:
        raise error(f"{path.name}: refused: values nested too deeply") from None
    except ValueError as problem:  # e.g. an integer of more digits than Python converts
        raise error(f"{path.name}: not valid YAML: {_one_line(problem)}") from None


def _one_line(problem: Exception) -> str:
    return " ".join(str(problem).split())[:300]


def first_non_finite(tree: Any, path: str = "") -> tuple[str, float] | None:
    """The path and value of the first NaN or infinity in nested dicts and lists (None if none)."""
    stack: list[tuple[Any, str]] = [(tree, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return where or "(top level)", value
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in reversed(list(value.items())))
        elif isinstance(value, (list, tuple)):
            stack.extend((v, f"{where}[{k}]") for k, v in reversed(list(enumerate(value))))
    return None
