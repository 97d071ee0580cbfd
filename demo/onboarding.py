"""The demo's old customers: demo/data/old_customers.csv imported through the real import (onboarding/), so the
console's import page has a finished batch with its refused rows, and a shopper can claim an imported
customer (`test-laoli` logs in as 李阿姨 by her openid; binding phone code `old-wang` makes anyone 王女士).
Idempotent: a file already imported once (same bytes) is not imported again."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from onboarding import importer
from onboarding.models import ImportBatch
from onboarding.rows import scan

SAMPLE = Path(__file__).resolve().parent / "data" / "old_customers.csv"


def seed() -> list[str]:
    with SAMPLE.open("rb") as stream:
        fingerprint = scan(stream, "csv").fingerprint
        if db.session.scalar(select(ImportBatch.id).where(ImportBatch.fingerprint == fingerprint,
                                                          ImportBatch.state == "done")) is not None:
            return []
        stream.seek(0)
        batch, _ = importer.open_file_batch(stream, SAMPLE.name, "csv", dry_run=False)
        batch = importer.run(batch.id, stream)
    return [f"old customers: imported {batch.imported} of {batch.rows_total} rows from demo/data/old_customers.csv "
            f"({batch.failed} refused: see the console's 导入老会员 page)"]
