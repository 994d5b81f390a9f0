"""Keyspace ids and key ranges: the coordinates that shard data."""

from shardline.key.keyrange import KeyRange, check_partition, parse_shard_name

__all__ = ["KeyRange", "check_partition", "parse_shard_name"]
