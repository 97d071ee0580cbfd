"""The points mall (积分商城): catalogue items and redemptions."""
