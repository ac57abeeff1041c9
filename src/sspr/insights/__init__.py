"""Usage & insights: registration coverage, resets and unlocks over a period, and the
recommendations that say what to change next. Read-only queries over existing tables, counted
by the database: their cost follows the number of methods, days and reasons, not of users."""
