"""The gate's serving graph: ready when started, so that a gate's first query finds its keyspaces' shards."""

from __future__ import annotations

from pathlib import Path

from shardline.gate.srvtopo import ServingGraph
from shardline.topo.server import TopoServer

VSCHEMA = {"sharded": True, "vindexes": {"hash": {"type": "hash"}}, "tables": {}}


async def test_a_started_serving_graph_has_every_keyspaces_shards(tmp_path: Path) -> None:
    ts = await TopoServer.open(f"embedded:{tmp_path}/topo.db")
    try:
        await ts.add_cell("zone1")
        for n in range(20):  # many keyspaces: all must be known when start() returns
            keyspace = f"ks{n}"
            await ts.create_keyspace(keyspace)
            for shard in ("-80", "80-"):
                await ts.create_shard(keyspace, shard)
            await ts.save_vschema(keyspace, VSCHEMA)
            await ts.rebuild_srv_keyspace(keyspace)
        await ts.rebuild_srv_vschema()
        serving = ServingGraph(ts, "zone1")
        await serving.start()
        try:
            for n in range(20):
                assert [s.name for s in serving.shards(f"ks{n}", "primary")] == ["-80", "80-"]
        finally:
            await serving.close()
    finally:
        await ts.close()

