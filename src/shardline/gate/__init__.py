"""The gate: MySQL server, planner, engine and executor that route queries to tablets."""
