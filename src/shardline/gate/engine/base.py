"""The primitive contract: a plan is a tree of primitives, cached and explainable."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import ShardTarget, VCursor
    from shardline.sqltypes import Result

BindVars = dict[str, Any]


class Primitive(ABC):
    """One node of a plan. Planning builds primitives; executing them never plans."""

    @abstractmethod
    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        """Runs this node (and its inputs) and returns the combined result."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """This node as EXPLAIN shows it: ``OperatorType``, ``Variant``, ``Keyspace``, ``Query``, ``Inputs``..."""

    def inputs(self) -> list[Primitive]:
        return []

    @property
    def plan_type(self) -> str:
        """The label metrics and the query log give plans rooted at this node."""
        return type(self).__name__

    async def single_shard(self, vcursor: VCursor, bind_vars: BindVars) -> ShardTarget | None:
        """The one shard on which the client's original text runs unchanged, so that the shard's response can be
        relayed as it is; None unless this node is such a route."""
        return None

    async def relay_shards(self, vcursor: VCursor, bind_vars: BindVars) -> list[ShardTarget] | None:
        """The shards on which the client's original text runs unchanged and whose result sets, one after
        the other, are the answer (relayed without decoding their rows); None unless this node is such a route."""
        target = await self.single_shard(vcursor, bind_vars)
        return None if target is None else [target]


class RowOperator(Primitive):
    """A primitive over one input whose own work is a synchronous step on that input's result (``finish``),
    given the bind variables its input runs with (``input_bind_vars``). A chain of them over a scatter route
    is what the fast path merges in a socket callback (gate/fastpath.py)."""

    input: Primitive

    def inputs(self) -> list[Primitive]:
        return [self.input]

    def input_bind_vars(self, bind_vars: BindVars) -> BindVars:
        """The bind variables the input runs with."""
        return bind_vars

    @abstractmethod
    def finish(self, result: Result, bind_vars: BindVars) -> Result:
        """This node's result from its input's ``result``."""

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        return self.finish(await self.input.execute(vcursor, self.input_bind_vars(bind_vars)), bind_vars)
