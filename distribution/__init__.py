"""Distribution (分销): promoters, the shoppers bound to them, commission on attributed sales, withdrawals."""
