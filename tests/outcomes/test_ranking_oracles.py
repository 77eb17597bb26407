"""The partner ranking of a scenario's variants (``autopact.outcomes.ranking.rank_partnerships``)
against numbers worked out by hand.

For each variant's result document the ranking reads the partners (the ``partner`` of its entrants
and the ``firm`` of its new products), the makers (its entrants' ``maker``), each firm's profit change
(``profit_counterfactual_usd - profit_baseline_usd`` of ``firms``; 0 for a firm not listed), and
``change.consumer_surplus_usd`` and ``change.us_assembly_jobs``. A row reports the partners' summed
profit change, the consumer surplus and jobs changes, and the rivals' losses: the sum of the
negative profit changes of the firms that are neither partner nor maker nor a joint venture.
Variants are ordered by the partners' profit change, larger first, then by the consumer surplus
change, larger first.

The hand-built documents use whole dollars (exact in floating point), so every number is checked
for equality; the bundled partner-comparison scenario is checked against each variant's own
``change.profit_by_firm_usd``.
"""

import io

import pytest
from rich.console import Console

from autopact.outcomes.ranking import rank_partnerships

FORD, GM, STELLANTIS, TOYOTA, HONDA = ("Ford Motor Co.", "General Motors", "Stellantis", "Toyota Motor Corp.",
                                       "Honda Motor Co.")
M = 1_000_000.0


def _doc(entrants=(), new_products=(), firms=None, cs=0.0, jobs=0.0):
    """A result document with only the keys the ranking reads; ``firms``: name -> (baseline, counterfactual)."""
    return {"scenario": {"definition": {"entrants": [dict(e) for e in entrants],
                                        "new_products": [dict(n) for n in new_products]}},
            "firms": [{"firm": f, "profit_baseline_usd": b, "profit_counterfactual_usd": c}
                      for f, (b, c) in (firms or {}).items()],
            "change": {"consumer_surplus_usd": cs, "us_assembly_jobs": jobs}}


def _entrant(maker, partner=None):
    return {"candidate": "x", "maker": maker, **({"partner": partner} if partner else {})}


# Inputs in this order (not the ranking's): ford-byd and gm-geely tie on the partner's change (+30M)
# and are split by consumer surplus; byd-import and honda-absent tie on both keys.
VARIANTS = [
    ("ford-byd", _doc([_entrant("BYD", FORD)], firms={
        FORD: (100 * M, 130 * M), "BYD": (0.0, 20 * M), GM: (50 * M, 45 * M), TOYOTA: (70 * M, 72 * M),
        f"{FORD}-BYD JV": (0.0, -9 * M)}, cs=5 * M, jobs=400.0)),
    ("byd-import", _doc([_entrant("BYD")], firms={
        "BYD": (0.0, 15 * M), FORD: (100 * M, 98 * M), GM: (50 * M, 49 * M)}, cs=20 * M, jobs=0.0)),
    ("two-partners", _doc([_entrant("BYD", FORD), _entrant("Geely", GM)], [{"firm": FORD, "name": "n"}], firms={
        FORD: (100 * M, 112 * M), GM: (50 * M, 56 * M), "Geely": (10 * M, 9.5 * M), "BYD": (0.0, 3 * M),
        TOYOTA: (70 * M, 66 * M), HONDA: (40 * M, 41 * M)}, cs=3 * M, jobs=1_250.5)),
    ("gm-geely", _doc([_entrant("Geely", GM)], firms={
        GM: (50 * M, 80 * M), FORD: (100 * M, 96 * M), "Geely (Volvo Cars)": (10 * M, 9 * M),
        "Geely": (0.0, 12 * M)}, cs=8 * M, jobs=4_000.0)),
    ("honda-absent", _doc([_entrant("BYD", HONDA)], firms={
        "BYD": (0.0, 1 * M), GM: (50 * M, 52 * M)}, cs=20 * M, jobs=-7.25)),
    ("stellantis-new", _doc(new_products=[{"firm": STELLANTIS, "name": "n"}], firms={
        STELLANTIS: (40 * M, 90 * M), FORD: (100 * M, 93 * M), GM: (50 * M, 47 * M)}, cs=1 * M, jobs=-30.0)),
]

# By hand, in the order expected: (variant, partner, maker, partner's change, CS change, jobs, rivals' losses)
EXPECTED = [
    # Stellantis +50M; rivals Ford -7M and GM -3M
    ("stellantis-new", STELLANTIS, "-", 50 * M, 1 * M, -30.0, -10 * M),
    # GM +30M, CS 8M beats ford-byd's 5M; rivals Ford -4M, Geely's Volvo -1M (a firm other than the maker)
    ("gm-geely", GM, "Geely", 30 * M, 8 * M, 4_000.0, -5 * M),
    # Ford +30M; rival GM -5M; Toyota gains (not a loss); the JV's -9M is not a rival's
    ("ford-byd", FORD, "BYD", 30 * M, 5 * M, 400.0, -5 * M),
    # Ford +12M and GM +6M (Ford once though a partner and a new product's firm); makers BYD and Geely
    # are no rivals (Geely's -0.5M left out); Toyota -4M; Honda gains
    ("two-partners", f"{FORD}, {GM}", "BYD, Geely", 18 * M, 3 * M, 1_250.5, -4 * M),
    # no partner: its change is 0; rivals Ford -2M and GM -1M
    ("byd-import", "-", "BYD", 0.0, 20 * M, 0.0, -3 * M),
    # Honda is not among the firms: its change is 0; GM gains; a full tie with byd-import (both keys)
    ("honda-absent", HONDA, "BYD", 0.0, 20 * M, -7.25, 0.0),
]
KEYS = ("variant", "partner", "maker", "partner_profit_change_usd", "consumer_surplus_change_usd",
        "us_assembly_jobs_change", "rivals_profit_losses_usd")


def test_ranking_of_hand_built_results_is_the_hand_computed_one():
    """Oracle: EXPECTED, each number summed by hand from VARIANTS' firms (see the comments there), in
    the order partner's change then consumer surplus change, both descending; every field equal
    exactly (whole dollars)."""
    ranking = rank_partnerships(VARIANTS)
    assert [tuple(row) for row in ranking] == [KEYS] * len(EXPECTED)  # the reported fields, in this order
    assert [tuple(row[k] for k in KEYS) for row in ranking] == EXPECTED
    for row in ranking:
        for key in KEYS[3:]:
            assert isinstance(row[key], (int, float)), key


def test_a_full_tie_keeps_the_order_the_variants_are_given_in():
    """Oracle: byd-import and honda-absent have the same partner's change (0) and consumer surplus change
    (+20M): neither key splits them, so they stay in the order given (the scenario file's), either way
    round, after every variant with a larger partner's change."""
    tied = [v for v in VARIANTS if v[0] in ("byd-import", "honda-absent")]
    for given in (tied, tied[::-1]):
        ranking = rank_partnerships(given + [v for v in VARIANTS if v not in tied])
        assert [row["variant"] for row in ranking][-2:] == [label for label, _ in given]


def test_the_consumer_surplus_change_breaks_a_tie_on_the_partners_change():
    """Oracle: ford-byd and gm-geely both give their partner +30M; gm-geely's consumer surplus change
    (+8M) is above ford-byd's (+5M), so it ranks first whichever is given first; raise ford-byd's to
    +9M and the order turns."""
    pair = [v for v in VARIANTS if v[0] in ("ford-byd", "gm-geely")]
    for given in (pair, pair[::-1]):
        assert [row["variant"] for row in rank_partnerships(given)] == ["gm-geely", "ford-byd"]
    label, doc = pair[0]
    assert label == "ford-byd"
    raised = {**doc, "change": {**doc["change"], "consumer_surplus_usd": 9 * M}}
    assert [row["variant"] for row in rank_partnerships([(label, raised), pair[1]])] == ["ford-byd", "gm-geely"]


def test_bundled_partner_comparison_ranks_by_each_variants_own_profit_change(tmp_path):
    """Oracle: for each variant of the bundled partner-comparison (two BYD or two Geely models built 50/50
    with Ford, GM or Stellantis), its partner's profit change read from its own result's
    ``change.profit_by_firm_usd``, and the rivals' losses summed there over the firms other than the
    partner and the maker; the run's ranking lists the variants in descending order of that change,
    with its numbers, consumer surplus and jobs changes to rounding."""
    from autopact.policy.scenario import load_scenario
    from autopact.runs.analyses import RunOptions, simulate_with_draws

    scenario = load_scenario("partner-comparison")
    document, results = simulate_with_draws(scenario, 0, None, RunOptions(store=tmp_path / "s.duckdb", serial=True),
                                            Console(file=io.StringIO()))
    assert [label for label, _ in results] == list(scenario.variants)
    hand = []
    for label, result in results:
        (partner,) = {e["partner"] for e in scenario.variants[label]["entrants"]}
        (maker,) = {e["maker"] for e in scenario.variants[label]["entrants"]}
        by_firm = result["change"]["profit_by_firm_usd"]
        rivals = sum(v for f, v in by_firm.items() if f not in (partner, maker) and v < 0)
        hand.append((label, partner, maker, by_firm[partner], result["change"]["consumer_surplus_usd"],
                     result["change"]["us_assembly_jobs"], rivals))
    hand.sort(key=lambda row: row[3], reverse=True)
    changes = [row[3] for row in hand]
    assert all(a - b > 1e-6 * abs(a) for a, b in zip(changes, changes[1:]))  # no near tie: the order is the oracle
    ranking = document["ranking"]
    assert [row["variant"] for row in ranking] == [row[0] for row in hand]
    for row, expected in zip(ranking, hand):
        assert (row["partner"], row["maker"]) == expected[1:3]
        for key, value in zip(KEYS[3:], expected[3:]):
            assert row[key] == pytest.approx(value, rel=1e-12, abs=1e-3), (row["variant"], key)
