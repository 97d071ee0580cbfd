"""RQ entry points of onboarding (thin: ids in, counts out)."""
from __future__ import annotations

from app.jobs import run_job
from onboarding import importer


def import_members(batch_id: int) -> dict:
    """An uploaded import, queued on the `grants` queue by POST /api/v1/admin/imports under the job id
    `member-import-<id>`; a retry (or a re-upload of the same file) resumes after the last committed chunk."""
    return run_job("import_members", importer.run_upload, batch_id=batch_id)
