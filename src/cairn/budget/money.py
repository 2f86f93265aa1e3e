"""Money without floats: amounts are integer nano-dollars (1e-9 USD) in the ledger and
`Decimal` US dollars in the API. A nano-dollar is far below a cent, so sums are exact to the
cent-fraction, and an int64 column holds up to about 9.2 billion dollars."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

NANOS_PER_USD = 1_000_000_000

Amount = Decimal | int | str | float
"""What the API accepts for a dollar amount; a float is read through its shortest repr."""


def to_decimal(value: Amount) -> Decimal:
    """A dollar amount as an exact `Decimal` (`0.1` becomes `Decimal('0.1')`)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def to_nanos(usd: Amount) -> int:
    """Dollars to integer nano-dollars, rounded up: a cost is never under-counted."""
    return int((to_decimal(usd) * NANOS_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def from_nanos(nanos: int) -> Decimal:
    """Integer nano-dollars to exact `Decimal` dollars."""
    return (Decimal(nanos) / NANOS_PER_USD).normalize() if nanos else Decimal(0)


def format_usd(usd: Decimal) -> str:
    """`$1.50`, `$0.000125`: cents when exact, else every significant digit (up to 9)."""
    if usd == usd.quantize(Decimal("0.01")):
        return f"${usd:,.2f}"
    text = f"{usd.quantize(Decimal('1e-9')).normalize():f}"
    return f"${text}"
