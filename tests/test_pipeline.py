"""app.pipeline: inside `pipelined()`, statements marked `queued` travel with the next answered one (on
PostgreSQL); every other statement is answered at once, rows and row counts included."""
from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from app import pipeline
from app.extensions import db
from members.models import Member
from tests.conftest import ON_POSTGRES
from tiers.models import GrowthEvent

_events = GrowthEvent.__table__
_LOG = pipeline.queued(insert(_events))
_members = Member.__table__
_GROW = update(_members).where(_members.c.id == bindparam("member_id")).values(growth=_members.c.growth + 1)


def _row(member_id: int) -> dict:
    from app import clock

    return {"member_id": member_id, "delta": 1, "growth_after": 1, "reason": "test", "ref": None,
            "created_at": clock.now()}


def test_a_queued_write_is_answered_with_the_next_statement(login):
    """A queued INSERT that breaks a foreign key raises only when the next statement is answered (PostgreSQL);
    on SQLite, without a pipeline, at once."""
    _, member_id = login("alice")
    with pytest.raises(IntegrityError), pipeline.pipelined():
        try:
            db.session.execute(_LOG, _row(member_id + 1000))  # no such member
        except IntegrityError:
            assert not ON_POSTGRES, "queued on PostgreSQL: not answered yet"
            raise
        assert ON_POSTGRES
        db.session.execute(select(Member.id).where(Member.id == member_id)).all()
    db.session.rollback()


def test_other_statements_in_the_block_answer_at_once(login):
    """Rows and row counts of statements not queued are there when read (a coupon's conditional UPDATE reads
    its row count), and the queued writes are in the transaction when it commits."""
    _, member_id = login("alice")
    with pipeline.pipelined():
        db.session.execute(_LOG, _row(member_id))
        assert db.session.execute(_GROW, {"member_id": member_id}).rowcount == 1
        assert db.session.execute(_GROW, {"member_id": member_id + 1000}).rowcount == 0
        assert db.session.scalar(select(Member.growth).where(Member.id == member_id)) == 1
        db.session.execute(_LOG, _row(member_id))
    db.session.commit()
    assert db.session.scalar(select(db.func.count()).select_from(_events)) == 2


@pytest.mark.postgres(reason="pipeline mode is psycopg's")
def test_the_block_leaves_pipeline_mode_before_the_transaction_ends(login):
    """A commit returns the connection to the pool, where another thread may take it: it must not be in
    pipeline mode then."""
    from psycopg import pq

    _, member_id = login("alice")
    with pipeline.pipelined():
        db.session.execute(_LOG, _row(member_id))
        raw = db.session.connection().connection.driver_connection
        assert raw.pgconn.pipeline_status == pq.PipelineStatus.ON
    assert raw.pgconn.pipeline_status == pq.PipelineStatus.OFF
    db.session.commit()
