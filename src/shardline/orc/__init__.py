"""The failover agent (``shardline orc``, like Vitess's VTOrc): watches every tablet of its cells through their
health streams and their MariaDB state, detects what is wrong with each shard (analysis), and repairs it under
the shard's lock (recovery), with its decisions in the log, in Prometheus metrics and on /debug/status."""
