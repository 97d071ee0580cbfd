"""`flask import members`: what an imported customer brings, the per-row report, dry runs and re-runs."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.extensions import db
from members.models import MemberIdentity, MemberTag
from onboarding.models import ImportBatch, ImportRowError
from points.models import LedgerEntry, PointsLot
from tests.onboarding.helpers import balance, imported_count, member, opening_points, run_cli, write_csv, write_jsonl
from tiers import growth, review
from tiers.models import GrowthEvent, TierChange

ALICE = {"external_id": "C001", "phone": "+86 138-0013-8000", "unionid": "u-alice", "openid": "", "name": "王丽",
         "birthday": "1990-05-20", "gender": "女", "tier": "gold", "growth": "6200",
         "points": "500:2026-06-30;300:2027-12-31", "vip_until": "2026-12-31", "tags": "老客;高净值",
         "source_channel": "store_s1", "joined_at": "2019-03-01"}


def test_a_customer_comes_in_with_tier_growth_lots_vip_tags_and_an_opening_entry(app, tiers, at, tmp_path):
    at("2026-03-05T10:00:00+08:00")
    result = run_cli(app, write_csv(tmp_path / "old.csv", [ALICE, {"external_id": "C002", "growth": "1200"}]))
    assert result.exit_code == 0, result.output
    assert "imported 2, skipped 0 already imported, refused 0 rows; opening points 800" in result.output
    alice = member("C001")
    assert (alice.phone, alice.nickname, alice.gender, alice.birthday) == ("13800138000", "王丽", 2, date(1990, 5, 20))
    assert alice.tier_id == tiers["gold"].id and alice.growth == 6200
    assert alice.tier_review_on == date(2027, 3, 5) and alice.vip_active()
    assert alice.created_at.date() == date(2019, 2, 28)  # 00:00 in Shanghai
    assert alice.last_login_at is None
    identities = set(db.session.execute(select(MemberIdentity.kind, MemberIdentity.value)
                                        .where(MemberIdentity.member_id == alice.id)))
    assert identities == {("unionid", "u-alice")}
    tags = dict(db.session.execute(select(MemberTag.tag, MemberTag.source)
                                   .where(MemberTag.member_id == alice.id)).all())
    assert tags == {"老客": "manual", "高净值": "manual", "channel:store_s1": "auto"}
    batch = db.session.scalar(select(ImportBatch))
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.member_id == alice.id))
    assert (entry.kind, entry.delta, entry.balance_after, entry.cause_type, entry.cause_id, entry.note) == \
        ("opening", 800, 800, "import_batch", str(batch.id), "opening balance")
    lots = sorted((lot.amount, lot.expires_at.date()) for lot in db.session.scalars(
        select(PointsLot).where(PointsLot.member_id == alice.id)))
    assert lots == [(300, date(2027, 12, 31)), (500, date(2026, 6, 30))]  # 23:59:59.999 Shanghai = 15:59 UTC
    assert balance(alice.id) == 800
    change = db.session.scalar(select(TierChange).where(TierChange.member_id == alice.id))
    assert (change.from_tier_id, change.to_tier_id, change.reason, change.ref) == \
        (None, tiers["gold"].id, "opening", f"import:{batch.id}")
    assert db.session.scalar(select(GrowthEvent.delta).where(GrowthEvent.member_id == alice.id)) is None
    bob = member("C002")
    assert bob.tier_id == tiers["silver"].id  # no tier named: the one 1,200 growth reaches
    assert balance(bob.id) == 0 and bob.source_channel is None
    assert (batch.state, batch.imported, batch.rows_done, batch.rows_total, batch.points) == ("done", 2, 2, 2, 800)


def test_bad_rows_are_reported_by_row_field_and_reason_and_written_not_at_all(app, tiers, at, tmp_path):
    at("2026-03-05T10:00:00+08:00")
    rows = [
        {"external_id": "C1", "phone": "12345", "points": "100"},                      # row 1: bad phone
        {"external_id": "C2", "tier": "platinum", "birthday": "2030-01-01"},         # row 2: two bad fields
        {"external_id": "C3", "points": "100:2026-01-01"},                           # row 3: lot already expired
        {"external_id": "", "name": "nobody"},                                        # row 4: no id
        {"external_id": "C5", "points": "100;abc", "tags": "vip"},                   # row 5: bad lot, auto tag
        {"external_id": "C6", "points": "250", "growth": "-3", "gender": "x"},       # row 6
        {"external_id": "C7", "points": "40", "joined_at": "2027-01-01"},            # row 7: joined in the future
        {"external_id": "C8", "points": "70"},                                        # row 8: fine
    ]
    result = run_cli(app, write_csv(tmp_path / "bad.csv", rows))
    assert result.exit_code == 0, result.output
    errors = [(e.row_number, e.external_id, e.field) for e in db.session.scalars(
        select(ImportRowError).order_by(ImportRowError.id))]
    assert errors == [(1, "C1", "phone"), (2, "C2", "birthday"), (2, "C2", "tier"), (3, "C3", "points"),
                      (4, None, "external_id"), (5, "C5", "points"), (5, "C5", "tags"), (6, "C6", "gender"),
                      (6, "C6", "growth"), (7, "C7", "joined_at")]
    assert "row 3 (C3) points: the lot of 100 expired on 2026-01-01" in result.output
    assert imported_count() == 1 and opening_points() == 70
    assert db.session.scalar(select(ImportBatch.failed)) == 7


def test_the_database_refuses_a_phone_or_unionid_someone_has_and_repeats_within_the_file(
        app, tiers, at, tmp_path, login, fake_wechat, client):
    at("2026-03-05T10:00:00+08:00")
    fake_wechat.add_login("c-zoe", openid="o-zoe", unionid="u-zoe")
    zoe = client.post("/api/v1/auth/wechat-login", json={"code": "c-zoe"}).get_json()["member"]["id"]
    fake_wechat.add_phone("p-zoe", "13900000001")
    token = client.post("/api/v1/auth/wechat-login", json={"code": "c-zoe"}).get_json()["token"]
    assert client.post("/api/v1/me/phone", json={"code": "p-zoe"},
                       headers={"Authorization": f"Bearer {token}"}).status_code == 200
    rows = [{"external_id": "A", "phone": "13900000001", "points": "10"},
            {"external_id": "B", "unionid": "u-zoe", "points": "10"},
            {"external_id": "C", "phone": "13900000002", "points": "10"},
            {"external_id": "D", "phone": "13900000002", "points": "10"},
            {"external_id": "C", "points": "10"}]
    run_cli(app, write_csv(tmp_path / "f.csv", rows))
    errors = [(e.row_number, e.field, e.reason) for e in db.session.scalars(select(ImportRowError))]
    assert errors == [(1, "phone", "already bound to another member"), (2, "unionid", "already another member's"),
                      (4, "phone", "repeats row 3"), (5, "external_id", "repeats row 3")]
    assert imported_count() == 1 and balance(zoe) == 0 and opening_points() == 10


def test_jsonl_lines_take_lists_and_refuse_what_is_not_a_record(app, tiers, at, tmp_path):
    at("2026-03-05T10:00:00+08:00")
    path = write_jsonl(tmp_path / "old.jsonl", [
        {"external_id": 7, "points": [{"amount": 100, "expires_on": "2026-12-31"}, {"amount": 5}], "tags": ["a"]},
        "[1, 2]", "{broken", {"external_id": "x", "colour": "red"}, {"external_id": "y", "growth": 1.5}])
    result = run_cli(app, path)
    assert result.exit_code == 0, result.output
    assert balance(member("7").id) == 105
    errors = [(e.row_number, e.field, e.reason) for e in db.session.scalars(select(ImportRowError))]
    assert errors == [(2, "row", "not a JSON object"), (3, "row", "not a JSON object"),
                      (4, "row", "unknown field(s): colour"), (5, "growth", "must be a whole number")]


def test_a_file_refused_whole_writes_nothing(app, tiers, tmp_path):
    result = run_cli(app, write_csv(tmp_path / "x.csv", [{"external_id": "1", "colour": "red"}],
                                    header=["external_id", "colour"]))
    assert result.exit_code == 1 and "Unknown column(s): colour" in result.output
    assert imported_count() == 0
    (tmp_path / "latin.csv").write_bytes("external_id,name\n1,Jos\xe9\n".encode("latin-1"))
    result = run_cli(app, tmp_path / "latin.csv")
    assert result.exit_code == 1 and "not UTF-8" in result.output
    assert db.session.scalar(select(ImportBatch)) is None  # refused before a batch exists


def test_a_dry_run_checks_the_same_and_writes_only_its_report(app, tiers, at, tmp_path):
    at("2026-03-05T10:00:00+08:00")
    path = write_csv(tmp_path / "old.csv", [ALICE, {"external_id": "C2", "phone": "1"}])
    result = run_cli(app, path, "--dry-run")
    assert "(dry run): would import 1, skipped 0 already imported, refused 1 rows; opening points 800" in result.output
    assert imported_count() == 0 and opening_points() == 0
    assert run_cli(app, path).exit_code == 0
    assert imported_count() == 1
    dry, real = db.session.scalars(select(ImportBatch).order_by(ImportBatch.id)).all()
    assert (dry.dry_run, dry.imported, dry.failed) == (True, 1, 1)
    assert (real.dry_run, real.imported, real.failed) == (False, 1, 1)


def test_a_second_run_of_the_same_or_another_file_never_doubles_a_balance(app, tiers, at, tmp_path):
    at("2026-03-05T10:00:00+08:00")
    path = write_csv(tmp_path / "old.csv", [ALICE, {"external_id": "C2", "points": "50"}])
    run_cli(app, path)
    again = run_cli(app, path)
    assert "imported 0, skipped 2 already imported" in again.output
    other = run_cli(app, write_csv(tmp_path / "other.csv", [{"external_id": "C2", "points": "999"},
                                                            {"external_id": "C3", "points": "1"}]))
    assert "imported 1, skipped 1 already imported" in other.output
    assert balance(member("C001").id) == 800 and balance(member("C2").id) == 50 and opening_points() == 851


def test_a_report_file_lists_every_refused_row(app, tiers, tmp_path):
    report = tmp_path / "report.csv"
    rows = [{"external_id": f"E{n}", "phone": "bad"} for n in range(25)]
    result = run_cli(app, write_csv(tmp_path / "bad.csv", rows), "--report", str(report))
    assert "... and 5 more (all in" in result.output
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row,external_id,field,reason" and len(lines) == 26
    assert lines[25] == "25,E24,phone,must be an 11-digit mainland mobile number"


def test_the_first_review_judges_growth_earned_here_not_the_imported_growth(app, tiers, at, tmp_path):
    at("2026-03-05T10:00:00+08:00")
    run_cli(app, write_csv(tmp_path / "old.csv", [{"external_id": "G1", "tier": "gold", "growth": "6200"},
                                                  {"external_id": "G2", "tier": "gold", "growth": "6200"}]))
    at("2026-06-01T10:00:00+08:00")
    growth.add_growth(member("G2").id, 3000, "purchase", "order-1")
    db.session.commit()
    at("2027-03-05T10:00:00+08:00")
    review.review_tiers()
    db.session.expire_all()
    assert member("G1").tier_id == tiers["silver"].id  # 0 earned since the import < gold's 2,500 to stay
    assert member("G2").tier_id == tiers["gold"].id


def test_a_chunk_that_loses_a_race_is_checked_and_written_again(app, tiers, at, tmp_path, login, monkeypatch):
    """An invite code that clashes (or a phone bound meanwhile) fails the chunk's INSERT: it is rolled back whole
    and done again, with fresh codes and fresh checks."""
    from members.models import Member
    from onboarding import importer

    at("2026-03-05T10:00:00+08:00")
    _, shopper_id = login("early")
    taken = db.session.get(Member, shopper_id).invite_code
    codes = iter([taken])
    real = importer.new_invite_code
    monkeypatch.setattr(importer, "new_invite_code", lambda: next(codes, None) or real())
    result = run_cli(app, write_csv(tmp_path / "old.csv", [{"external_id": "R1", "points": "5"},
                                                           {"external_id": "R2", "points": "6"}]))
    assert "imported 2, skipped 0 already imported, refused 0 rows; opening points 11" in result.output
    assert opening_points() == 11 and imported_count() == 2
