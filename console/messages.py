"""Every refusal the services can give, in the Chinese a clerk or an admin reads: one table, keyed by the
stable `code` of app.errors.ApiError, so no view or template words an error of its own."""
from __future__ import annotations

from app.errors import ApiError

MESSAGES: dict[str, str] = {
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
    # imports of existing customers
    "import_file_missing": "请选择要导入的文件。",
    "bad_import_file": "文件无法导入：需为 UTF-8 编码的 CSV（首行为列名）或 JSON Lines，且只含说明中的列。",
    "bad_import_format": "文件格式只能是 CSV 或 JSON Lines。",
    "import_not_queued": "导入批次已记录，但未能交给后台处理；请重新上传同一文件。",
    "import_batch_not_found": "找不到该导入批次。",
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
