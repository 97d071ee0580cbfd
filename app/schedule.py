"""Every RQ queue, every job and every periodic schedule, declared as data in one place (Redash's layout).

Queues are named by workload so a slow bulk grant never delays a WeChat notification. `rq cron` loads
app/cron.py, which registers PERIODIC from here. RQ 3's cron matches cron fields against the scheduler
process's local time; that process is pinned to UTC and every schedule here is a business-time wish converted
to a UTC cron string, so the schedule is the same on any host. Run exactly one `rq cron` process.

Cron does not enqueue the jobs themselves: it enqueues `app.jobs.scheduled(name)`, which enqueues the real
job under a deterministic id (job name + business date), so a second cron process or a hand enqueue of
the same run is refused instead of doing the work twice.

"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

QUEUE_NAMES = ["notify", "webhooks", "grants", "expiry", "default"]  # a worker serves them in this priority order


@dataclass(frozen=True)
class JobSpec:
    path: str  # dotted path of the RQ entry point (a domain's jobs.py function)
    queue: str
    arg: str | None = None  # "day" (a business date) or "month" (its first day): what --date feeds it
    period: str = "day"  # "day", "hour" or "month": the run key, hence the deterministic RQ job id
    timeout: int = 3600


JOBS: dict[str, JobSpec] = {
    "activate_pending_points": JobSpec("points.jobs.activate_pending_points", "expiry", period="hour"),
    "expire_points_lots": JobSpec("points.jobs.expire_points_lots", "expiry", arg="day"),
    "remind_expiring_points": JobSpec("notifications.jobs.remind_expiring_points", "notify", arg="day"),
    "expire_coupons": JobSpec("coupons.jobs.expire_coupons", "expiry"),
    "remind_expiring_coupons": JobSpec("notifications.jobs.remind_expiring_coupons", "notify", arg="day"),
    "grant_birthday_gifts": JobSpec("benefits.jobs.grant_birthday_gifts", "grants", arg="day"),
    "grant_monthly_packs": JobSpec("benefits.jobs.grant_monthly_packs", "grants", arg="month", period="month"),
    "review_tiers": JobSpec("tiers.jobs.review_tiers", "grants", arg="day"),
    "expire_vips": JobSpec("vip.jobs.expire_vips", "expiry", arg="day"),
    "purge_consumed_member_codes": JobSpec("members.jobs.purge_consumed_member_codes", "expiry"),
    "deliver_pending_notifications": JobSpec("notifications.jobs.sweep", "notify", period="hour"),
    "rollup_daily": JobSpec("reports.jobs.rollup_daily", "default", arg="day"),
    "recompute_lifecycle": JobSpec("reports.jobs.recompute_lifecycle", "default", arg="day"),
    "compute_rfm": JobSpec("reports.jobs.compute_rfm", "default", arg="day"),
    "settle_commissions": JobSpec("distribution.jobs.settle_commissions", "expiry", period="hour"),
    "review_promoter_levels": JobSpec("distribution.jobs.review_promoter_levels", "grants", arg=None),
    "sweep_webhooks": JobSpec("webhooks.jobs.sweep", "webhooks", period="hour"),
}


# Jobs the app queues itself, with ids, when something happens (not on a schedule): the same declaration, so
# every job's queue, timeout, retries and TTLs are written here and nowhere else.
ON_DEMAND: dict[str, JobSpec] = {
    "deliver_notifications": JobSpec("notifications.jobs.drain", "notify"),
    "issue_coupons": JobSpec("marketing.jobs.issue_coupons", "grants"),
    "deliver_webhooks": JobSpec("webhooks.jobs.drain", "webhooks"),
    "import_members": JobSpec("onboarding.jobs.import_members", "grants", timeout=6 * 3600),
}


def business_zone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("BUSINESS_TZ") or "Asia/Shanghai")


def utc_cron(minute: int, hour: int | None = None, day_of_month: int | None = None,
             zone: ZoneInfo | None = None) -> str:
    """The UTC cron string for `minute hour day_of_month * *` in business time (None = every).

    Refuses zones with daylight saving time: a fixed UTC cron string would drift by an hour twice a year.
    """
    zone = zone or business_zone()
    year = datetime.now(UTC).year
    offsets = {datetime(year, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)}
    if len(offsets) != 1:
        raise ValueError(f"{zone.key} observes daylight saving time; schedule in UTC by hand")
    offset = int(offsets.pop().total_seconds() // 60)
    total = (hour or 0) * 60 + minute - offset
    day_shift, total = divmod(total, 24 * 60)
    utc_minute = total % 60
    if hour is None:
        return f"{utc_minute} * * * *"
    utc_hour = total // 60
    if day_of_month is None:
        return f"{utc_minute} {utc_hour} * * *"
    if day_shift == 0:
        dom = str(day_of_month)
    elif day_shift == -1:
        dom = "L" if day_of_month == 1 else str(day_of_month - 1)
    else:
        dom = "1" if day_of_month in (28, 29, 30, 31) and day_shift == 1 else str(day_of_month + day_shift)
    return f"{utc_minute} {utc_hour} {dom} * *"


# (job name, cron string in UTC); the comment says when it runs in business time.
PERIODIC: list[tuple[str, str]] = [
    ("activate_pending_points", utc_cron(2)),  # every hour at :02
    ("expire_points_lots", utc_cron(5, 0)),  # 00:05: lots whose day ended at midnight
    ("expire_coupons", utc_cron(10, 0)),  # 00:10
    ("expire_vips", utc_cron(15, 0)),  # 00:15
    ("purge_consumed_member_codes", utc_cron(45, 3)),  # 03:45
    ("review_tiers", utc_cron(30, 1)),  # 01:30
    ("grant_monthly_packs", utc_cron(0, 2, day_of_month=1)),  # 02:00 on the 1st
    ("grant_birthday_gifts", utc_cron(30, 2)),  # 02:30, after the tier review
    ("rollup_daily", utc_cron(0, 3)),  # 03:00: yesterday's figures
    ("recompute_lifecycle", utc_cron(15, 3)),  # 03:15
    ("compute_rfm", utc_cron(30, 3)),  # 03:30
    ("remind_expiring_points", utc_cron(0, 10)),  # 10:00: a humane hour for a WeChat message
    ("remind_expiring_coupons", utc_cron(5, 10)),  # 10:05
    ("deliver_pending_notifications", utc_cron(40)),  # hourly sweep of notifications not yet sent
    ("settle_commissions", utc_cron(20)),  # every hour at :20: commission whose return window ended
    ("review_promoter_levels", utc_cron(45, 1)),  # 01:45: promoters' fan-group levels
    ("sweep_webhooks", utc_cron(50)),  # hourly: webhook deliveries due that no drain was asked for
]
