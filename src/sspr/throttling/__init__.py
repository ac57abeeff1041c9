"""Counters that hold across processes: attempts, codes sent, daily caps."""
