"""Differential test of the gate: the same data and queries in the sharded ``customer`` keyspace and in one
unsharded MariaDB database; every result must match (or the gate must clearly refuse the query)."""
