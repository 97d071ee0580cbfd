"""Every job run, recorded: what ran, when, how much it touched and why it failed."""
