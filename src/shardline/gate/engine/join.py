"""Join: a nested-loop join at the gate. For each row of the left input, the join variables take that row's
values and the right input runs with them; output rows are the left row followed by the right row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shardline.gate.engine.base import BindVars, Primitive
from shardline.gate.engine.bindvars import from_row_value
from shardline.sqltypes import Result

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import VCursor


class Join(Primitive):
    """``join_vars``: bind variable name -> left column it takes its value from (none: the right input runs
    once). ``outer``: a LEFT JOIN, where a left row without right rows comes out once, with NULLs for the right
    columns."""

    def __init__(
        self, left: Primitive, right: Primitive, join_vars: dict[str, int], *, outer: bool = False
    ) -> None:
        self.left = left
        self.right = right
        self.join_vars = join_vars
        self.outer = outer

    def inputs(self) -> list[Primitive]:
        return [self.left, self.right]

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        left = await self.left.execute(vcursor, bind_vars)
        rows = []
        right_fields = None
        fixed_right = None if self.join_vars else await self.right.execute(vcursor, bind_vars)
        for row in left.rows:
            if fixed_right is not None:
                right = fixed_right
            else:
                bound = dict(bind_vars)
                for name, column in self.join_vars.items():
                    bound[name] = from_row_value(left.fields[column], row[column])
                right = await self.right.execute(vcursor, bound)
            right_fields = right.fields
            if right.rows:
                rows.extend(row + right_row for right_row in right.rows)
            elif self.outer:
                rows.append(row + (None,) * len(right.fields))
        if right_fields is None and fixed_right is not None:
            right_fields = fixed_right.fields
        if right_fields is None:  # no left row: run the right side once for its fields
            nulls = dict.fromkeys(self.join_vars)
            right_fields = (await self.right.execute(vcursor, {**bind_vars, **nulls})).fields
        return Result(fields=left.fields + right_fields, rows=rows)

    def describe(self) -> dict[str, Any]:
        return {
            "OperatorType": "Join",
            "Variant": "LeftJoin" if self.outer else "Join",
            "JoinVars": dict(self.join_vars),
        }
