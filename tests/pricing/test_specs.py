"""Round trips of the catalogue specs through the ORM columns (pure, property-tested): what an
operator writes is what the API shows back, in either currency layout."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tronrent.models import EnergyPackage, PriceConfig
from tronrent.models.energy_package import PackageType
from tronrent.pricing import package as package_mod
from tronrent.pricing import rules as rules_mod
from tronrent.pricing.audit import diff
from tronrent.pricing.schemas import PackageSpec, PriceConfigSpec

prices = st.none() | st.integers(0, 10**15)
package_specs = st.builds(
    lambda name, energy, hours, trx, usdt, low, span, tags, counted: PackageSpec(
        name=name,
        energy_amount=energy,
        duration_hours=hours,
        trx_price_sun=trx,
        usdt_price_units=usdt if trx is not None or usdt is not None else 1,
        min_quantity=low,
        max_quantity=None if span is None else low + span,
        tags=tags,
        package_type=PackageType.TRANSACTION_COUNT if counted else PackageType.ENERGY,
        transaction_count=10 if counted else None,
    ),
    st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Z"]), min_size=1, max_size=20
    ),
    st.integers(1, 10**10),
    st.integers(1, 24 * 366),
    prices,
    prices,
    st.integers(1, 1000),
    st.none() | st.integers(0, 1000),
    st.lists(st.sampled_from(["a", "b", "vip"]), max_size=3),
    st.booleans(),
)


@given(package_specs)
def test_package_spec_survives_the_columns(spec: PackageSpec) -> None:
    package = EnergyPackage(id=uuid.uuid4())
    package_mod._apply(package, spec)
    back = package_mod.spec_of(package)
    assert back.stored() == spec.stored()
    assert package_mod.merged_spec(back, {}).stored() == spec.stored()


@given(
    st.builds(
        lambda **kw: PriceConfigSpec(config_name="r", **kw),
        base_price_units=prices,
        markup_bps=st.integers(-9_999, 1_000_000),
        priority=st.integers(-1000, 1000),
        package_id=st.none() | st.uuids(),
    ),
    st.dictionaries(
        st.sampled_from(["markup_bps", "priority", "is_active"]),
        st.integers(0, 1000) | st.booleans(),
    ),
)
def test_rule_spec_survives_the_columns(spec: PriceConfigSpec, raw: dict[str, Any]) -> None:
    config = PriceConfig(id=uuid.uuid4())
    rules_mod._apply(config, spec)
    assert rules_mod.rule_spec(config).stored() == spec.stored()
    changed = {k: v for k, v in raw.items() if isinstance(v, bool) == (k == "is_active")}
    new = spec.model_copy(update=changed)
    before, after = diff(spec.stored(), new.stored())
    assert set(after) == {k for k in changed if getattr(spec, k) != changed[k]}
    assert all(before[k] == spec.stored()[k] for k in after)
