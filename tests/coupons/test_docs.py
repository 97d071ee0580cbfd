"""What the till and marketing read about coupons: the refund rule in the served OpenAPI and the README."""
from __future__ import annotations

from pathlib import Path


def test_the_refund_route_and_the_readme_say_what_happens_to_coupons(client):
    spec = client.get("/api/openapi.json").get_json()
    refund = spec["paths"]["/api/v1/pos/purchases/{order_no}/refunds"]["post"]
    assert refund["description"].startswith("Caller: staff, manager.")
    assert "partial refund keeps the coupons used" in refund["description"]
    assert "restores its coupons that have not expired" in refund["description"]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Coupons and refunds", 1)[1].split("\n## ", 1)[0]
    assert "partial refund keeps the coupons used" in section and "have not expired" in section


def test_the_issue_contract_is_described(client):
    spec = client.get("/api/openapi.json").get_json()
    issue_route = spec["paths"]["/api/v1/admin/coupon-templates/{template_id}/issue"]["post"]
    assert "Caller: marketing, admin." in issue_route["description"]
    assert "queues it again if it is not done" in issue_route["description"]
    issue_out = spec["components"]["schemas"]["IssueOut"]["properties"]
    assert "failed" in issue_out["state"]["description"]
    template_in = spec["components"]["schemas"]["TemplateIn"]
    assert "code" not in template_in.get("required", [])
