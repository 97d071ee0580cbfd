"""Every refusal the services can give, in the Chinese a clerk or an admin reads: one table, keyed by the
stable `code` of app.errors.ApiError, so no view or template words an error of its own."""
from __future__ import annotations

from app.errors import ApiError

MESSAGES: dict[str, str] = {
    # distribution (分销)
    "already_promoter": "该会员已是推广员。",
    "promoter_not_found": "找不到该推广员。",
    "promoter_revoked": "该推广员已被取消资格。",
    "withdrawal_not_found": "找不到该提现申请。",
    "withdrawal_decided": "该提现申请已处理，请刷新页面。",
    "withdrawal_not_processing": "该提现不在打款中。",
    # sign-in and accounts
    "bad_credentials": "用户名或密码错误。",
    "rate_limited": "尝试次数过多，请一分钟后再试。",
    "operator_inactive": "该账号已停用。",
    "operator_exists": "该用户名已存在。",
    "bad_username": "用户名为 2-64 位字母、数字或 _ . -。",
    "bad_store_code": "门店编码为 1-32 位字母、数字或 _ -。",
    "operator_not_found": "找不到该操作员。",
    "store_exists": "该门店编码已存在。",
    "store_not_found": "找不到该门店。",
    "store_required": "店员和店长必须指定所属门店。",
    "bad_role": "角色无效。",
    "password_too_short": "密码至少 8 位。",
    "wrong_password": "当前密码不正确。",
    "self_lockout": "不能停用或降级自己的账号。",
    "session_expired": "长时间未操作，已自动退出，请重新登录。",
    "csrf": "页面已过期或来源不明，请刷新页面后重试。",
    "forbidden": "您没有权限执行此操作。",
    # member code
    "member_code_invalid": "会员码无效或已过期，请让顾客刷新会员码后重新扫码。",
    "member_code_used": "该会员码已被使用，请让顾客刷新会员码后重新扫码。",
    "member_not_found": "找不到该会员。",
    # basket and quote
    "unknown_sku": "商品不存在（SKU 未知）。",
    "product_not_found": "商品不存在。",
    "product_inactive": "该商品已下架，不能销售。",
    "duplicate_sku": "同一商品请只加一行。",
    "order_too_large": "订单金额超过上限，请检查数量。",
    "points_over_cap": "积分抵扣超过本单上限。",
    "points_step": "积分抵扣数量不符合兑换单位。",
    "insufficient_points": "会员积分不足。",
    "points_in_debt": "会员积分为负，暂不能使用积分。",
    "paid_mismatch": "实付金额与报价不一致，请重新计算后再确认。",
    "order_no_conflict": "该单号已用于另一笔不同的订单，请换一个单号。",
    "coupon_changed": "优惠券状态已变化，请重新计算。",
    # coupons
    "coupon_not_found": "找不到该券码。",
    "coupon_not_applicable": "该优惠券不适用于本单商品或未达门槛。",
    "coupon_not_stackable": "这些优惠券不能叠加使用。",
    "coupon_duplicated": "同一张优惠券只能用一次。",
    "coupon_not_verifiable": "只有礼品/兑换券可以单独核销，折扣券请在结账时使用。",
    "coupon_not_yet_valid": "该券尚未到使用时间。",
    "coupon_revoked": "该券已作废。",
    "coupon_expired": "该券已过期。",
    "coupon_already_used": "该券已被使用。",
    # refunds
    "purchase_not_found": "本店没有这个单号的订单。",
    "refund_exceeds_paid": "退款金额超过可退金额。",
    "refund_exceeds_bought": "退货数量超过可退数量。",
    "sku_not_in_order": "该商品不在这笔订单中。",
    "refund_mode_conflict": "这笔订单已按另一种方式部分退款，请继续用同一方式或整单退款。",
    "nothing_paid": "这笔订单全部用积分支付，请按商品或整单退款。",
    "refund_no_conflict": "该退款单号已用于另一笔退款，请刷新页面。",
    # pickups
    "redemption_not_found": "找不到该兑换记录。",
    "already_fulfilled": "该礼品已经领取过了。",
    "already_cancelled": "该兑换已取消。",
    "not_pickup": "该兑换是券类商品，无需到店领取。",
    "not_awaiting_pickup": "该兑换不在待领取状态。",
    # the program (tiers, policies, earn rules, tasks, coupon templates and issues, the mall, VIP plans)
    "tier_not_found": "找不到该等级。",
    "tier_rank_taken": "已有等级使用这个顺序，顺序不能重复。",
    "tier_code_taken": "已有等级使用这个编码。",
    "tier_conflict": "已有等级使用这个编码或顺序。",
    "thresholds_out_of_order": "高一级的等级，升级和保级所需成长值都不能低于低一级的等级。",
    "retention_above_entry": "保级成长值不能高于升级成长值。",
    "benefits_out_of_order": "高一级的等级，积分倍率不能低于低一级的等级。",
    "unknown_tier": "等级编码不存在。",
    "unknown_coupon_template": "所选优惠券模板不存在。",
    "unknown_category": "品类不存在（没有商品属于该品类）。",
    "unknown_tag": "标签不存在（没有会员带这个标签）。",
    "member_price_above_list": "会员价不能高于标价。",
    "earn_rule_not_found": "找不到该积分规则。",
    "end_before_start": "结束时间不能早于开始时间。",
    "task_not_found": "找不到该任务。",
    "duplicate_code": "该编码已被使用。",
    "checkin_task_exists": "已有一个启用中的签到任务，请先停用它。",
    "checkin_only": "只有签到任务可以设置连签奖励。",
    "coupon_template_not_found": "找不到该券模板。",
    "coupon_template_code_taken": "该券编码已被使用。",
    "coupon_template_in_use": "该券已发放，券面条款不能再修改；可停用后新建一个。",
    "coupon_template_stopped": "该券已停用，不能发放。",
    "coupon_template_ended": "该券已过期，不能发放。",
    "threshold_below_discount": "门槛不能低于减免金额（无门槛请填 0）。",
    "required_for_kind": "这种券必须填写此项。",
    "not_for_kind": "这种券不使用此项，请留空。",
    "validity_incomplete": "请填写完整的有效期。",
    "audience_empty": "请选择发放人群：标签、等级或已保存的人群。",
    "audience_not_found": "找不到该人群。",
    "issue_key_reused": "该发放已提交过，请刷新页面后重试。",
    "coupon_issue_not_found": "找不到该发放记录。",
    "coupon_issue_not_queued": "发放已记录但未能排队，请稍后再点一次发放。",
    "item_not_found": "找不到该兑换商品。",
    "out_of_stock": "库存不足（库存不能少于 0）。",
    "stock_too_large": "库存超过上限。",
    "vip_plan_not_found": "找不到该付费会员方案。",
    "vip_plan_code_taken": "该方案编码已被使用。",
    # input
    "validation_error": "输入有误，请检查后重试。",
    "bad_amount": "请输入正确的金额（元，最多两位小数）。",
    "bad_quantity": "请输入正确的数量。",
}
FALLBACK = "操作未成功，请重试或联系管理员。"


def message_for(error: ApiError | str) -> str:
    """The Chinese message for an ApiError (or a bare code); an unlisted code gets a generic sentence,
    never the English text meant for developers."""
    code = error if isinstance(error, str) else error.code
    return MESSAGES.get(code, FALLBACK)
