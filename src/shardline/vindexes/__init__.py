"""The VSchema model and the vindex types that map column values to keyspace ids."""
