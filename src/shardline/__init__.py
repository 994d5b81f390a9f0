"""shardline: horizontal sharding for MySQL/MariaDB."""
