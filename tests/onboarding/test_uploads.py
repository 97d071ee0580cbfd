"""The admin upload (API and console page): a worker runs the batch; progress and the refused rows are read back."""
from __future__ import annotations

import io

from rq.job import Job
from sqlalchemy import select

from app.extensions import db
from app.redis_store import get_redis
from onboarding import importer, jobs
from onboarding.models import ImportBatch, ImportFileChunk
from tests.conftest import bearer
from tests.console.helpers import csrf_token, sign_in
from tests.onboarding.helpers import balance, imported_count, member

CSV = ("external_id,phone,tier,growth,points,tags\n"
       "A1,13800001111,gold,6000,100:2027-01-01;50,老客\n"
       "A2,not-a-phone,,,10,\n"
       "A3,,,,,\n").encode()


def _upload(client, headers, content: bytes = CSV, name: str = "old.csv", **form):
    return client.post("/api/v1/admin/imports", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(content), name), **form})


def test_an_upload_is_queued_then_run_by_the_worker_with_its_progress_and_report(client, operator_token, tiers, at):
    at("2026-03-05T10:00:00+08:00")
    admin = bearer(operator_token("admin", None))
    answer = _upload(client, admin)
    assert answer.status_code == 202, answer.get_json()
    body = answer.get_json()
    assert (body["state"], body["rows_total"], body["percent"], body["dry_run"]) == ("queued", 3, 0, False)
    assert Job.fetch(importer.job_id(body["id"]), connection=get_redis()).origin == "grants"
    assert imported_count() == 0
    assert jobs.import_members(body["id"]) == {"scanned": 3, "changed": 2, "skipped": 0, "failed": 1}
    db.session.rollback()
    batch = client.get(f"/api/v1/admin/imports/{body['id']}", headers=admin).get_json()
    assert (batch["state"], batch["percent"], batch["imported"], batch["failed"], batch["points"]) == \
        ("done", 100, 2, 1, 150)
    errors = client.get(f"/api/v1/admin/imports/{body['id']}/errors", headers=admin).get_json()
    assert errors["items"] == [{"row_number": 2, "external_id": "A2", "field": "phone",
                                "reason": "must be an 11-digit mainland mobile number"}]
    assert balance(member("A1").id) == 150
    assert db.session.scalar(select(ImportFileChunk)) is None  # the customers' file is not kept once imported
    listing = client.get("/api/v1/admin/imports", headers=admin).get_json()
    assert [item["id"] for item in listing["items"]] == [body["id"]]


def test_the_same_file_uploaded_again_resumes_its_unfinished_batch(client, operator_token, tiers, at):
    at("2026-03-05T10:00:00+08:00")
    admin = bearer(operator_token("admin", None))
    first = _upload(client, admin).get_json()
    Job.fetch(importer.job_id(first["id"]), connection=get_redis()).delete()  # the worker died with the job
    again = _upload(client, admin).get_json()
    assert again["id"] == first["id"]
    assert db.session.scalar(select(ImportBatch.id).where(ImportBatch.id != first["id"])) is None
    jobs.import_members(first["id"])
    db.session.rollback()
    assert imported_count() == 2
    third = _upload(client, admin).get_json()  # once done, the same file is a new batch that skips everyone
    jobs.import_members(third["id"])
    db.session.rollback()
    assert db.session.get(ImportBatch, third["id"]).skipped == 2 and imported_count() == 2


def test_a_dry_run_upload_reports_and_writes_nothing(client, operator_token, tiers, at):
    at("2026-03-05T10:00:00+08:00")
    admin = bearer(operator_token("admin", None))
    body = _upload(client, admin, dry_run="true").get_json()
    jobs.import_members(body["id"])
    db.session.rollback()
    batch = db.session.get(ImportBatch, body["id"])
    assert (batch.dry_run, batch.imported, batch.failed, batch.points) == (True, 2, 1, 150)
    assert imported_count() == 0


def test_uploads_are_for_admins_and_a_bad_file_is_refused_before_anything(client, operator_token, marketing, tiers):
    assert _upload(client, marketing).status_code == 403
    assert _upload(client, bearer(operator_token("staff", "S1"))).status_code == 403
    admin = bearer(operator_token("admin", None))
    refused = _upload(client, admin, b"external_id,colour\n1,red\n")
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "bad_import_file"
    assert _upload(client, admin, "external_id\nJos\xe9\n".encode("latin-1")).status_code == 422
    assert _upload(client, admin, b"").status_code == 422
    assert _upload(client, admin, format="xml").status_code == 422
    assert client.post("/api/v1/admin/imports", headers=admin, content_type="multipart/form-data",
                       data={"dry_run": "true"}).status_code == 422
    assert client.get("/api/v1/admin/imports/999", headers=admin).status_code == 404
    assert db.session.scalar(select(ImportBatch)) is None


def test_the_console_page_uploads_and_shows_the_batch(client, program):
    sign_in(client, "admin")
    page = client.get("/console/imports")
    assert page.status_code == 200 and "导入老会员" in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    answer = client.post("/console/imports", content_type="multipart/form-data",
                         data={"file": (io.BytesIO(CSV), "old.csv"), "csrf_token": token})
    assert answer.status_code == 302
    batch_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    running = client.get(f"/console/imports/{batch_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in running and 'data-state="queued"' in running
    jobs.import_members(batch_id)
    db.session.rollback()
    done = client.get(f"/console/imports/{batch_id}").get_data(as_text=True)
    assert 'data-state="done"' in done and "hx-trigger" not in done
    assert "<td>2</td><td>A2</td><td>phone</td>" in done
    listing = client.get("/console/imports").get_data(as_text=True)
    assert f"#{batch_id}" in listing


def test_the_console_page_is_for_admins(client, program):
    sign_in(client, "marketing")
    assert client.get("/console/imports").status_code == 403
    client.post("/console/logout",
                data={"csrf_token": csrf_token(client.get("/console/marketing/dashboard").get_data(as_text=True))})
    sign_in(client, "admin")
    page = client.get("/console/imports").get_data(as_text=True)
    refused = client.post("/console/imports", content_type="multipart/form-data",
                          data={"file": (io.BytesIO(b"colour\nred\n"), "x.csv"), "csrf_token": csrf_token(page)})
    assert refused.status_code == 422 and 'data-code="bad_import_file"' in refused.get_data(as_text=True)
