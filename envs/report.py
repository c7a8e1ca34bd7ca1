"""The typed research report an agent submits with `submit_report`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_RECOMMENDATIONS = 10
MAX_CLAIMS = 30


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(description="id of a product retrieved in this episode")
    rationale: str = Field(default="", max_length=600, description="why it suits the request")


class Claim(BaseModel):
    """A checkable statement: `field` is `price`, a spec name, or `aspect:<name>` with value good/poor."""

    model_config = ConfigDict(extra="forbid")

    product_id: str
    field: str = Field(description="'price' (value in dollars), a spec name, or 'aspect:<aspect>' (value good|poor)")
    value: str
    source: str = Field(description="id of the product, review or page this episode retrieved that backs the claim")


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recommendations: list[Recommendation] = Field(default_factory=list, max_length=MAX_RECOMMENDATIONS,
                                                  description="best first")
    claims: list[Claim] = Field(default_factory=list, max_length=MAX_CLAIMS)
    comparison: list[dict[str, str]] = Field(default_factory=list, max_length=10,
                                             description="one row per product: column -> value")
    summary: str = Field(default="", max_length=2000)
    nothing_fits: bool = Field(default=False, description="true when no product meets the hard constraints")
