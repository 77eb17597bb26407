"""Announced launches as dated data (issue 14): Ford's Universal EV pickup, due in 2027."""

from autopact.policy.dated import at_year
from autopact.policy.scenario import load_scenario, parse_scenario
from autopact.simulate import market_for, simulate


def test_the_announced_pickup_is_on_sale_from_2027_with_its_launch_term_by_year():
    scenario = load_scenario("ford-universal-ev-2027")
    assert at_year(scenario, 2026).new_products == []
    assert [at_year(scenario, y).new_products[0].years_on_sale for y in (2027, 2028, 2032, 2033)] == [1, 2, 6, 7]
    assert load_scenario("ford-universal-ev").new_products[0].years_on_sale is None  # undated: the parameter


def test_a_new_product_on_a_market_carried_past_2026_gets_its_cost_from_the_market_s_own_rows():
    # from model year 2027 the carried market leaves out Volvo and Polestar (connected-vehicle rule); the
    # new product's implied cost once zipped the calibration's 269 prices onto the fewer rows (a TypeError)
    scenario = parse_scenario({**load_scenario("ford-universal-ev").model_dump(mode="json"), "variants": {},
                               "baseline_year": 2030}, "test")
    result = simulate(scenario, market_for(scenario))
    assert len(result.market.data.products) < len(result.market.calibration.arrays.units)  # rows were barred
    products = result.counterfactual.products.set_index("product_id")
    pickup = products.loc["new--ford-universal-ev-pickup"]
    assert pickup["units"] > 0
    # its cost is implied by its announced price at the model's price level: below it, and priced above it
    scale = result.market.data.price_scale
    assert 0 < pickup["cost"] < 30000 * scale < pickup["price"] + pickup["cost"]
