"""Compiled (numba) set-up of one market's ownership cells for ``autopact.model.compiled``: the
classes of Omega's equal rows and columns, the (class, nest) cells and the sparse mix of cell sums
by Omega that ``autopact.model.sorted_kernel.SortedKernel`` builds with numpy (about 20 us a BLP
1995 market here, where the numpy construction of SortedKernel took some 200), and ``unowned``, an
array without a reference count for the compiled loops. Loaded with ``compiled``, only where numba
is installed."""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import intrinsic


@intrinsic
def unowned(typingctx, ary):
    """The array ``ary`` without its memory's reference count (numba's meminfo, NULL here): its views and
    the calls it is passed to make no atomic updates of the count (two each).
    Valid only while ``ary`` itself is alive: an argument of the calling function, or a local array
    read again after the last use of the array returned (numba frees a local after its last use)."""
    def codegen(context, builder, sig, args):
        source = context.make_array(sig.args[0])(context, builder, args[0])
        target = context.make_array(sig.return_type)(context, builder)
        context.populate_array(target, data=source.data, shape=source.shape, strides=source.strides,
                               itemsize=source.itemsize, meminfo=None)
        return target._getvalue()
    return ary(ary), codegen


# fastmath flags: sums may be reassociated (vectorised); NaN and infinities keep their meaning
FAST = {"reassoc", "contract", "nsz"}


@numba.njit(cache=True, fastmath=FAST)
def _classes(ownership, direction, transpose):
    """(class of each row, first row of each class) of Omega, or of its columns with ``transpose``:
    equal rows share a class, numbered by their projection on ``direction`` as ``zeta._classes``
    numbers them (np.unique's order), checked equal to their class's first row, and compared one by
    one where two different rows project alike."""
    count = ownership.shape[0]
    projection = np.zeros(count)
    if transpose:
        for j in range(count):
            for k in range(count):
                projection[k] += direction[j] * ownership[j, k]
    else:
        for j in range(count):
            total = 0.0
            for k in range(count):
                total += ownership[j, k] * direction[k]
            projection[j] = total
    order = np.argsort(projection, kind="mergesort")
    classes, first = np.empty(count, np.int64), np.empty(count, np.int64)
    number = -1
    for position in range(count):
        j = order[position]
        if position == 0 or projection[j] != projection[order[position - 1]]:
            number += 1
            first[number] = j
        classes[j] = number
    mismatches = 0
    for j in range(count):  # each row (column) against its class's first
        f = first[classes[j]]
        if transpose:
            for k in range(count):
                mismatches += ownership[k, j] != ownership[k, f]
        else:
            for k in range(count):
                mismatches += ownership[j, k] != ownership[f, k]
    same = mismatches == 0
    if not same:  # two different rows projected alike: compare each with every class found so far
        number = -1
        for j in range(count):
            found = -1
            for c in range(number + 1):
                equal = True
                for k in range(count):
                    a = ownership[k, j] if transpose else ownership[j, k]
                    b = ownership[k, first[c]] if transpose else ownership[first[c], k]
                    equal = equal and a == b
                if equal:
                    found = c
                    break
            if found < 0:
                number += 1
                first[number] = j
                found = number
            classes[j] = found
    return classes, first[:number + 1].copy()


@numba.njit(cache=True)
def _cells(classes, group, groups):
    """(cell of each product, class of each cell, group of each cell): the distinct (class, group)
    pairs, numbered in the order of class * groups + group (np.unique's)."""
    keys = classes * groups + group
    order = np.argsort(keys, kind="mergesort")
    cell = np.empty(keys.size, np.int64)
    cell_class, cell_group = np.empty(keys.size, np.int64), np.empty(keys.size, np.int64)
    number = -1
    for position in range(keys.size):
        j = order[position]
        if position == 0 or keys[j] != keys[order[position - 1]]:
            number += 1
            cell_class[number], cell_group[number] = classes[j], group[j]
        cell[j] = number
    return cell, cell_class[:number + 1].copy(), cell_group[:number + 1].copy()


@numba.njit(cache=True)
def prepare(ownership, group, groups, coefficient, direction):
    """One market's ownership cells (``sorted_kernel.SortedKernel``: a row cell's c_l A^l as a sparse
    mix of cell sums, one level without nests and two with): (cell, row cell of each product, group
    of each cell and of each row cell, the mix's indptr, indices and data, the row and column class
    of each product and Omega's entries by row and column class)."""
    count, asymmetric = ownership.shape[0], 0
    for j in range(count):
        for k in range(j + 1, count):
            asymmetric += ownership[j, k] != ownership[k, j]
    row, first_row = _classes(ownership, direction, False)
    column, first_column = (row, first_row) if asymmetric == 0 else _classes(ownership, direction, True)
    cell, cell_column, cell_group = _cells(column, group, groups)
    row_cell, row_cell_row, row_cell_group = _cells(row, group, groups)
    levels = 1 if coefficient == 0 else 2
    rows, cells = row_cell_row.size, cell_column.size
    indptr = np.zeros(levels * rows + 1, np.int64)
    indices, data = np.empty(levels * rows * cells, np.int64), np.empty(levels * rows * cells)
    at = 0
    for level in range(levels):
        for r in range(rows):
            for c in range(cells):
                value = ownership[first_row[row_cell_row[r]], first_column[cell_column[c]]]
                if level == 1:
                    value = coefficient * value if row_cell_group[r] == cell_group[c] else 0.0
                if value != 0:
                    indices[at], data[at] = c, value
                    at += 1
            indptr[level * rows + r + 1] = at
    table = np.empty((first_row.size, first_column.size))  # Omega by (row class, column class): ``same``
    for r in range(first_row.size):
        for c in range(first_column.size):
            table[r, c] = ownership[first_row[r], first_column[c]]
    return (cell, row_cell, cell_group, row_cell_group, indptr, indices[:at].copy(), data[:at].copy(), row, column,
            table)


@numba.njit(cache=True)
def same(ownership, row, column, table):
    """Whether Omega equals the matrix whose row and column classes (``row``, ``column``) and entries
    by class (``table``) ``prepare`` found (``fused._cells``: a kept market's against the one given),
    reading Omega once and the small table from the cache; stops at the first row that differs. Exact:
    ``prepare`` checked every row (column) equal to its class's first."""
    if ownership.shape[0] != row.size or ownership.shape[1] != column.size:
        return False
    for j in range(row.size):
        entries, differ = table[row[j]], False
        for k in range(column.size):
            differ |= ownership[j, k] != entries[column[k]]
        if differ:
            return False
    return True


@numba.njit(cache=True)
def equal(ownership, kept):
    """Whether Omega equals ``kept`` (a copy of a kept market's, ``fused._cells``) entry by entry: one
    pass in memory order, a row's comparisons in SIMD, stopping at the first row that differs."""
    if ownership.shape != kept.shape:
        return False
    for j in range(ownership.shape[0]):
        row, other, differ = ownership[j], kept[j], False
        for k in range(row.size):
            differ |= row[k] != other[k]
        if differ:
            return False
    return True
