"""The typed research report an agent submits with `submit_report`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_RECOMMENDATIONS = 10
MAX_CLAIMS = 30


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(max_length=100, description="id of a product retrieved in this episode")
    rationale: str = Field(default="", max_length=600, description="why it suits the request")


class Claim(BaseModel):
    """A checkable statement: `field` is `price`, a spec name, or `aspect:<name>` with value good/poor."""

    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(max_length=100)
    field: str = Field(max_length=100,
                       description="'price' (value in dollars), a spec name, or 'aspect:<aspect>' (value good|poor)")
    value: str = Field(max_length=200)
    source: str = Field(max_length=100,
                        description="id of the product, review or page this episode retrieved that backs the claim")


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recommendations: list[Recommendation] = Field(default_factory=list, max_length=MAX_RECOMMENDATIONS,
                                                  description="best first")
    claims: list[Claim] = Field(default_factory=list, max_length=MAX_CLAIMS)
    comparison: list[dict[Annotated[str, Field(max_length=60)], Annotated[str, Field(max_length=200)]]] = Field(
        default_factory=list, max_length=10, description="one row per product: column -> value")
    summary: str = Field(default="", max_length=2000)
    nothing_fits: bool = Field(default=False, description="true when no product meets the hard constraints")
