"""Named assumptions of the exogenous paths' channels (``autopact.policy.exogenous``): how incomes,
the market size and fuel and electricity prices after 2025 enter the equilibrium. Listed in every
projection's JSON (``autopact.runs.projection``) beside the build-path assumptions.

The operating-cost wedge needs three numbers beyond the price paths, each sourced with a range:
the share of the present value of fuel costs buyers act on (Allcott and Wozny 2014: 0.76;
Busse, Knittel and Zettelmeyer 2013 and Sallee, West and Fan 2016: about full valuation), and a
new vehicle's lifetime miles and their present-value factor by vehicle class (NHTSA, Lu 2006); and a
fourth for the outside alternative (keep the current vehicle, buy a used one): the on-road light-duty
fleet's fuel economy (FHWA Highway Statistics 2024, table VM-1), which prices the gasoline the
outside alternative burns over the same miles.
"""

from __future__ import annotations

from autopact.data.assumptions import Assumption

NHTSA_LU_2006 = ("https://swov.nl/en/publicatie/vehicle-survivability-and-travel-mileage-schedules (NHTSA, S. Lu, "
                 "Vehicle Survivability and Travel Mileage Schedules, DOT HS 809 952, January 2006)")
FUEL_COST_VALUATION_SHARE = 0.76
LIFETIME_MILES = {"car": 152_137.0, "light_truck": 179_954.0}
# the lifetime-weighted present-value factor of those miles at 3% real, the projection's discount_rate
LIFETIME_DISCOUNT_FACTOR = {"car": 0.8304, "light_truck": 0.8022}
CAR_SEGMENTS = ("car",)
FHWA_VM1_2024 = ("https://www.fhwa.dot.gov/policyinformation/statistics/2024/xls/vm1.xlsx (FHWA, Highway Statistics "
                 "2024, table VM-1, column 'All light duty vehicles', row 'Average miles traveled per gallon of fuel "
                 "consumed'; quoted to four decimals, with the same column's 10,786.6516 miles and 460.3646 gallons "
                 "per vehicle, which it divides exactly, in a public repository's citation of the table)")
# the on-road light-duty fleet's miles per gallon in 2024 (the latest VM-1 found): the vehicle a
# household keeps or buys used burns gasoline at this rate (named assumption outside_vehicle_fuel_economy)
OUTSIDE_VEHICLE_MPG = 23.4307
OUTSIDE_VEHICLE_MPG_RANGE = (22.0, 26.0)


def exogenous_assumptions() -> list[Assumption]:
    """The assumptions of ``autopact.policy.exogenous``, each with its source and range."""
    return [
        Assumption(
            name="income_growth_proxy",
            value="held at 2025; productivity growth at the high end",
            unit="what real household income grows with",
            allowed=("held at 2025; productivity growth at the high end",),
            description="Each simulated household's real income y_i is scaled by the path real_income_index: held at "
                        "2025 in the central case, up to the Social Security Trustees' intermediate productivity growth "
                        "(1.63% a year) at the high end of its range.",
            reason=(
                "No sourced projection of real household income was found (the Trustees' real-wage differential and "
                "CBO's income projections were not in the stored pages). Productivity growth is not household income "
                "growth: it holds the labour share, hours per household and the income distribution's shape fixed, so "
                "it is the high end, not the central case; with it as the central case the 2026 baseline sold 2.6% "
                "more than 2025 where Cox forecast 2.4% less (15.8 million) and January-February 2026 ran at a "
                "15.2-15.6 million annual rate (developments_2026.md). Draws take a whole path between no growth and "
                "productivity growth."
            ),
            source="https://www.ssa.gov/oact/tr/2025/V_B_econ.html; exogenous_paths.csv real_income_index",
        ),
        Assumption(
            name="fuel_cost_valuation_share",
            value=FUEL_COST_VALUATION_SHARE,
            unit="dollars of purchase price per dollar of discounted lifetime fuel cost",
            minimum=0.0,
            maximum=1.0,
            description="A change in a product's discounted lifetime fuel (or electricity) cost against 2025 enters "
                        "its consumer price at this share, as a wedge (autopact.policy.exogenous).",
            reason=(
                "Allcott and Wozny (2014, REStat): vehicle prices move as if buyers are indifferent between $1.00 of "
                "discounted future gasoline cost and $0.76 of purchase price. Range 0.76-1.0: Busse, Knittel and "
                "Zettelmeyer (2013, AER) and Sallee, West and Fan (2016, J. Public Econ.: used-car prices move one "
                "for one with discounted fuel costs) find about full valuation."
            ),
            source="https://nber.org/digest/may13/gasoline-prices-fuel-economy-and-energy-paradox ; "
                   "https://vdocument.in/do-consumers-recognize-the-value-of-fuel-economy-evidence-"
                   "salleeswf140127pdf.html",
        ),
        Assumption(
            name="lifetime_vehicle_miles",
            value=dict(LIFETIME_MILES),
            unit="miles over a new vehicle's life, by class",
            description="The miles over which a product's fuel cost per mile is paid: NHTSA's lifetime mileage of a "
                        "passenger car and of a light truck (survival-weighted miles by vehicle age).",
            reason=(
                "NHTSA (Lu 2006): a typical passenger car travels 152,137 miles in its lifetime, a light truck "
                "179,954. Range: about 26,000 miles fewer a class (NHTSA's 1995 edition, as the 2006 update "
                "reports) to these values."
            ),
            source=NHTSA_LU_2006,
        ),
        Assumption(
            name="lifetime_miles_discount_factor",
            value=dict(LIFETIME_DISCOUNT_FACTOR),
            unit="present value of the lifetime miles over their sum, by class",
            minimum=0.0,
            maximum=1.0,
            description="The present value of a dollar a mile over the vehicle's life, per lifetime mile, at 3% real "
                        "(the projection's discount_rate).",
            reason=(
                "NHTSA (Lu 2006): the lifetime-weighted present discount factor is 0.8304 (car) and 0.8022 (light "
                "truck) at 3%; 0.6700 and 0.6303 at 7% (the range, with discount_rate's 7%)."
            ),
            source=NHTSA_LU_2006,
        ),
        Assumption(
            name="vehicle_class",
            value="car segment: passenger car; SUV-crossover, pickup, van: light truck",
            unit="NHTSA class of each segment",
            allowed=("car segment: passenger car; SUV-crossover, pickup, van: light truck",),
            description="Which lifetime miles a product's segment takes.",
            reason="NHTSA classes crossover SUVs, pickups and vans as light trucks; products_2025.csv gives segments, "
                   "not the regulatory class of each model (a crossover certified as a car would take car miles).",
            source=NHTSA_LU_2006,
        ),
        Assumption(
            name="operating_cost_energy",
            value="by powertrain",
            unit="which price a product's fuel cost per mile follows",
            allowed=("by powertrain",),
            description=(
                "ICE, HEV and PHEV products' fuel_cost_usd_per_mile follows the gasoline price (a PHEV's composite "
                "MPGe is priced at gasoline, as in products_2025.csv), a BEV's the residential electricity price; "
                "FCEVs have none. Products without a fuel cost in the data (entrants, new products) take the mean "
                "of the data's products of their powertrain."
            ),
            reason="products_2025.csv builds fuel_cost_usd_per_mile from $3.10 a gallon and $0.1716 a kWh "
                   "(PROVENANCE.md), so it scales with the year's price over 2025's; entrants' efficiencies are not "
                   "in the data (GAP).",
            source="products_2025.csv fuel_cost_usd_per_mile; PROVENANCE.md (fuel cost per mile)",
        ),
        Assumption(
            name="outside_vehicle_fuel_economy",
            value=OUTSIDE_VEHICLE_MPG,
            unit="miles per gallon of the vehicle a household keeps or buys used (the outside alternative)",
            minimum=OUTSIDE_VEHICLE_MPG_RANGE[0],
            maximum=OUTSIDE_VEHICLE_MPG_RANGE[1],
            maximum_reason="the new-vehicle fleet's mean, EPA Automotive Trends, model year 2022",
            description=(
                "The outside alternative (no new vehicle: keep the current one, buy a used one) burns gasoline "
                "too, so a gasoline price change moves its operating cost over the same miles: "
                "T_0 = s x D_c x L_c x f_0 x (P_gasoline,Y / P_gasoline,2025 - 1), f_0 = $3.10 (the 2025 row of "
                "exogenous_paths.csv) / this fuel economy, $0.1323 a mile. Each product's wedge is T_j - T_0 "
                "(autopact.policy.exogenous), over the lifetime miles and discount factor of the product's class."
            ),
            reason=(
                "FHWA Highway Statistics 2024, table VM-1: all light duty vehicles on the road (cars, SUVs, vans, "
                "pickups, any wheelbase) travelled 23.4307 miles per gallon of fuel consumed in 2024, the latest "
                "year found (miles over the gasoline and diesel the fleet burned). Range 22.0-26.0: "
                "22 mpg is all cars and light trucks on US roads as reported in 2017 (Sivak and Schoettle, UMTRI, "
                "data through 2015), a fleet a decade older, like the older vehicles households keep; 26.0 mpg is "
                "the new-vehicle fleet's mean (EPA Automotive Trends 2023, model year 2022, final), as efficient "
                "as the vehicles just sold. No measure of the fuel "
                "economy of the vehicles households keep or buy used instead of a new one was found. VM-1's "
                "figure is on-road (miles over gallons), products_2025.csv's are EPA combined labels (adjusted "
                "to approximate real-world driving): the same yardstick, not an identical one."
            ),
            source=f"{FHWA_VM1_2024} ; http://247wallst.com/autos/2017/03/02/average-fuel-economy-for-264-million-"
                   "us-light-vehicles-22-miles-per-gallon/ (UMTRI, Sivak and Schoettle 2017) ; "
                   "https://www.energy.gov/eere/vehicles/articles/fotw-1330-february-19-2024-epa-data-show-average-"
                   "fuel-economy-new-light-duty (EPA, The 2023 EPA Automotive Trends Report)",
        ),
    ]
