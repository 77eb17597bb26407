"""The levers a scenario file lists, each a validated pydantic model with its documented default:
the connected-vehicle rule, a local-production requirement, Chinese entrants (import, own plant or a
partner's), incumbents' new products, cost synergies, point-of-sale credits and mergers
(``autopact.policy.scenario`` holds them in a ``Scenario``; ``autopact.policy.levers`` applies them)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator

from autopact.data import load_chinese_candidates
from autopact.data.inputs import MAX_PRICE_USD, shown
from autopact.policy.dated_fields import BuildPath, Dated
from autopact.policy.lever_fields import Powertrain, Segment


@lru_cache(maxsize=1)
def chinese_makers() -> tuple[str, ...]:
    """The makers of the Chinese candidate models: ``maker_group`` of chinese_models.csv without its
    note in parentheses ("Xpeng (VW holds stake)" is Xpeng)."""
    groups = load_chinese_candidates()["maker_group"].dropna().astype(str)
    return tuple(sorted({group.split(" (")[0].strip() for group in groups}))


class ConnectedVehicleRule(Dated):
    """BIS connected-vehicle rule: sales by Chinese-controlled makers barred (from MY2027)."""

    enabled: bool = False
    applies_to_joint_ventures: bool = True
    applies_to_incumbents: bool = True
    repealed: bool = Field(False, description="the scenario lifts the rule of the bundled policy timeline (in force "
                                              "from model year 2027) while its own dates are in force")


class LocalProduction(Dated):
    """Entry allowed only with US assembly; entrants that would import are left out (and listed)."""

    required: bool = False


class Entrant(BuildPath):
    """A Chinese candidate model entering the US market (dated by ``effective`` or by a plant
    ``decision``: ``autopact.policy.dated_fields.BuildPath``)."""

    candidate: str = Field(description="candidate_id in the bundled chinese_models.csv")
    maker: str = Field(description="the Chinese firm, e.g. BYD: a maker of the candidates (chinese_models.csv)")
    assembly: Literal["import", "own_us_plant", "partner_us_plant"] = "import"
    partner: str | None = Field(None, description="US partner: a parent company in the 2025 market")
    profit_shares: dict[str, float] | None = Field(
        None, description="profit split between maker and partner; must sum to 1 (default: all to the maker)")
    dealers: Literal["own", "partner"] = "own"
    battery_origin: Literal["china", "us"] = "china"
    plant: str | None = Field(None, description="the US plant that builds it (entrants naming one plant share its "
                                                "capacity); default: '<owner> US plant'")
    capacity: float | None = Field(None, gt=0, description="the plant's capacity, vehicles a year (default: the "
                                                           "policy parameter entrant_plant_capacity)")

    @field_validator("maker")
    @classmethod
    def _known_maker(cls, maker: str) -> str:
        # a misspelt maker would be a firm of its own, competing with the real one
        if maker not in chinese_makers():
            raise ValueError(f"unknown maker {shown(maker)}; known: {', '.join(chinese_makers())}")
        return maker

    @model_validator(mode="after")
    def _consistent(self) -> "Entrant":
        candidates = load_chinese_candidates()
        if self.candidate in candidates.index:
            group = candidates.at[self.candidate, "maker_group"]
            own = str(group).split(" (")[0].strip() if isinstance(group, str) else None
            if own and self.maker != own:
                # a model entered under another maker would be priced and owned as that maker's
                raise ValueError(f"maker {shown(self.maker)} does not make candidate {shown(self.candidate)}: its maker is "
                                 f"{own}")
        if self.decision is not None and self.assembly == "import":
            raise ValueError(f"decision ({self.decision}): a plant lead time applies to US-built entrants; date an "
                             "import by effective")
        if self.assembly == "partner_us_plant" and not self.partner:
            raise ValueError("assembly 'partner_us_plant' needs a partner")
        if self.dealers == "partner" and not self.partner:
            raise ValueError("dealers 'partner' needs a partner")
        if self.profit_shares is not None:
            owners = {self.maker, *( [self.partner] if self.partner else [])}
            unknown = set(self.profit_shares) - owners
            if unknown:
                raise ValueError(f"profit_shares names {shown(sorted(unknown))}, who are neither maker nor partner")
            for holder, value in self.profit_shares.items():
                if not 0 <= value <= 1:
                    raise ValueError(f"profit_shares.{holder}: a share must lie in [0, 1], got {value}")
            total = sum(self.profit_shares.values())
            if abs(total - 1) > 1e-9:
                raise ValueError(f"profit_shares must sum to 1, got {total:g}")
        return self

    def shares(self) -> dict[str, float]:
        return dict(self.profit_shares) if self.profit_shares else {self.maker: 1.0}


class NewProduct(Dated):
    """A new product of an incumbent (e.g. Ford's Universal EV pickup): characteristics borrowed
    from a named comparable product, marginal cost implied by the announced price."""

    name: str
    firm: str = Field(description="parent company in the 2025 market")
    segment: Segment
    powertrain: Powertrain
    like: str = Field(description="product_id whose size and horsepower the new product takes")
    range_miles: float | None = Field(None, gt=0, le=1000, description="announced EPA range of a BEV, miles (default: the "
                                      "comparable product's where it is a BEV, else the market's mean BEV range)")
    announced_price_usd: float = Field(gt=0, le=MAX_PRICE_USD, description="announced base price (base-MSRP level), "
                                       "at most MAX_PRICE_USD (autopact.data.inputs: beyond it, a unit error)")
    price_source: str = Field(min_length=1)
    assembled_in_us: bool = True
    capacity: float | None = Field(None, gt=0, description="capacity of its US plant, vehicles a year (default: the "
                                                           "policy parameter entrant_plant_capacity)")
    years_on_sale: int | None = Field(None, ge=1, le=99, description="year on sale when evaluated (launch year = 1); "
                                      "set from effective in a dated evaluation (default: policy parameter "
                                      "entrant_years_on_sale)")


class Synergy(Dated):
    """A percentage change in a firm's production cost (e.g. cheaper LFP cells under licence): its
    products' cost before US distribution, the customs value v, becomes v (1 + g); the dealer's gross
    per vehicle (US distribution, outside v) does not move, so a marginal cost moves by g v (1 + tau),
    tau its tariff rate (``autopact.policy.levers``)."""

    firm: str
    change_pct: float = Field(ge=-90, le=100)
    powertrain: list[Powertrain] | None = None
    reason: str = Field(min_length=1)


class Credit(Dated):
    """A point-of-sale credit to buyers (negative: a surcharge) on the products it covers (all that
    match every given filter): consumer prices p^c_j = p_j - share_of_buyers x amount_usd, firms
    keep p_j (the economics reference sheet's price wedge). ``share_of_buyers`` is the average
    share of a product's buyers who receive it (e.g. lessees only)."""

    name: str
    product_ids: list[str] | None = Field(None, description="product_id values of the market")
    powertrain: list[Powertrain] | None = None
    amount_usd: float = Field(ge=-MAX_PRICE_USD, le=MAX_PRICE_USD,
                              description="dollars per vehicle; positive lowers the consumer price")
    share_of_buyers: float = Field(1.0, ge=0, le=1)
    source: str = Field(min_length=1, description="where the amount and its coverage come from")


class Merger(Dated):
    """Firms that price to maximise their own profit plus ``profit_weight`` times each other's:
    1 is a full merger, less than 1 partial common ownership (O'Brien and Salop 2000 profit weights,
    the project's ownership matrices kappa)."""

    name: str
    firms: list[str] = Field(min_length=2)
    profit_weight: float = Field(1.0, gt=0, le=1)

    @field_validator("firms")
    @classmethod
    def _distinct(cls, firms: list[str]) -> list[str]:
        if len(set(firms)) != len(firms):
            raise ValueError(f"a firm is listed twice: {shown(firms)}")
        return firms
