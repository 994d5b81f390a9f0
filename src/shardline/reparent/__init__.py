"""Changing a shard's primary, always under the shard's lock: PlannedReparentShard (a healthy primary hands
over without losing an acknowledged write), EmergencyReparentShard (the primary is dead: promote the most
advanced replica), TabletExternallyReparented (record a change an external tool made), the keyspace durability
policy (semi-synchronous replication), and the shard locks ctld holds for external failover tools."""
