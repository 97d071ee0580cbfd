"""Demo tasks, as the seeds' brands run them: 打卡 with a weekly streak, 分享, 发图文, 完善资料, 首单, 邀请."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from tasks import service
from tasks.models import TaskDefinition
from tasks.schemas import TaskIn

TASKS = [
    {"code": "daily-checkin", "kind": "checkin", "title": "每日签到", "display_order": 1,
     "description": "每天签到得5积分，连签3天再送10积分，连签7天再送50积分",
     "reward": {"points": 5}, "streak_cycle_days": 7, "streak_reset": "never",
     "streak_bonuses": [{"day": 3, "reward": {"points": 10}}, {"day": 7, "reward": {"points": 50}}],
     "milestones": [{"total": 30, "reward": {"points": 100, "growth": 30}}]},
    {"code": "share", "kind": "share", "title": "分享好物", "display_order": 2,
     "description": "分享商品或活动给好友，每次2积分，每天最多3次",
     "reward": {"points": 2}, "cap": {"period": "day", "count": 3}},
    {"code": "post", "kind": "post", "title": "发图文", "display_order": 3,
     "description": "发布买家秀图文，每天1次得10积分", "reward": {"points": 10, "growth": 5},
     "cap": {"period": "day", "count": 1}},
    {"code": "profile", "kind": "profile", "title": "完善资料", "display_order": 4,
     "description": "填写昵称、生日并绑定手机号，一次性奖励20积分", "reward": {"points": 20}},
    {"code": "first-purchase", "kind": "first_purchase", "title": "首单有礼", "display_order": 5,
     "description": "首次到店消费奖励50积分", "reward": {"points": 50}},
    {"code": "invite", "kind": "invite", "title": "邀请好友", "display_order": 6,
     "description": "好友通过你的邀请码注册并完成首单，你得100积分，每月最多10人",
     "reward": {"points": 100}, "cap": {"period": "month", "count": 10}},
]


def seed() -> list[str]:
    made = []
    for spec in TASKS:
        if db.session.scalar(select(TaskDefinition.id).where(TaskDefinition.code == spec["code"])) is None:
            service.create_task(TaskIn().load(spec))
            made.append(spec["code"])
    return ["tasks: " + " / ".join(t["title"] for t in TASKS) + (f" (new: {', '.join(made)})" if made else "")]
