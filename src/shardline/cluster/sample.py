"""The local cluster's sample schema and VSchema: products and sequences in ``commerce``, customers and their
orders in ``customer`` sharded by ``hash(customer_id)`` with ids from the ``commerce`` sequences."""

from __future__ import annotations

from typing import Any

from shardline.cluster.layout import SHARDED_KEYSPACE, UNSHARDED_KEYSPACE

SCHEMA: dict[str, str] = {
    UNSHARDED_KEYSPACE: """
CREATE TABLE IF NOT EXISTS product (
  sku VARCHAR(128) NOT NULL,
  description VARCHAR(255),
  price BIGINT,
  PRIMARY KEY (sku)
);
CREATE TABLE IF NOT EXISTS customer_seq (id INT NOT NULL, next_id BIGINT, cache BIGINT, PRIMARY KEY (id))
  COMMENT 'vitess_sequence';
INSERT IGNORE INTO customer_seq (id, next_id, cache) VALUES (0, 1, 100);
CREATE TABLE IF NOT EXISTS corder_seq (id INT NOT NULL, next_id BIGINT, cache BIGINT, PRIMARY KEY (id))
  COMMENT 'vitess_sequence';
INSERT IGNORE INTO corder_seq (id, next_id, cache) VALUES (0, 1, 100);
""",
    SHARDED_KEYSPACE: """
CREATE TABLE IF NOT EXISTS customer (
  customer_id BIGINT NOT NULL,
  email VARCHAR(128),
  PRIMARY KEY (customer_id)
);
CREATE TABLE IF NOT EXISTS corder (
  order_id BIGINT NOT NULL,
  customer_id BIGINT,
  sku VARCHAR(128),
  price BIGINT,
  PRIMARY KEY (order_id)
);
""",
}

VSCHEMA: dict[str, dict[str, Any]] = {
    UNSHARDED_KEYSPACE: {
        "tables": {
            "product": {},
            "customer_seq": {"type": "sequence"},
            "corder_seq": {"type": "sequence"},
        }
    },
    SHARDED_KEYSPACE: {
        "sharded": True,
        "vindexes": {"hash": {"type": "hash"}},
        "tables": {
            "customer": {
                "column_vindexes": [{"column": "customer_id", "name": "hash"}],
                "auto_increment": {"column": "customer_id", "sequence": f"{UNSHARDED_KEYSPACE}.customer_seq"},
            },
            "corder": {
                "column_vindexes": [{"column": "customer_id", "name": "hash"}],
                "auto_increment": {"column": "order_id", "sequence": f"{UNSHARDED_KEYSPACE}.corder_seq"},
            },
        },
    },
}
