"""The differential corpus's read queries, run through the planner and the engine on the two shards (no gate)
and on the reference instance: every answer must match, or be a clear refusal."""

from __future__ import annotations

from collections import Counter

import pytest
from pymysql.converters import decoders

from shardline.errors import ShardlineError
from shardline.sqltypes import BINARY_CHARSET, Result
from tests.e2e.differential.compare import Execution, Outcome, classify
from tests.e2e.differential.corpus import corpus
from tests.gate.conftest import SEED, ShardedEnv

pytestmark = pytest.mark.slow


def as_execution(result: Result) -> Execution:
    """The result as PyMySQL would have decoded it, for the corpus comparator."""
    columns = tuple(field.name for field in result.fields)
    convert = [decoders.get(field.type) for field in result.fields]
    rows = []
    for row in result.rows:
        values = []
        for field, decode, value in zip(result.fields, convert, row, strict=True):
            if value is None:
                values.append(None)
            elif decode is not None:
                values.append(decode(value.decode()))
            else:
                values.append(value if field.charset == BINARY_CHARSET else value.decode())
        rows.append(tuple(values))
    return Execution(columns, tuple(rows))


async def execute(env: ShardedEnv, sql: str, *, reference: bool) -> Execution:
    try:
        result = await env.reference_query(sql) if reference else (await env.run(sql))[0]
    except ShardlineError as err:
        return Execution(error=(err.code, err.message))
    return as_execution(result)


async def test_reads_of_the_corpus_answer_like_one_database(sharded_env: ShardedEnv):
    reads = [
        script.queries[0]
        for script in corpus(SEED)
        if len(script.queries) == 1 and not script.queries[0].is_write
    ]
    outcomes: Counter[Outcome] = Counter()
    wrong = []
    for query in reads:
        ours = await execute(sharded_env, query.sql, reference=False)
        theirs = await execute(sharded_env, query.sql, reference=True)
        outcome, detail = classify(query, ours, theirs)
        outcomes[outcome] += 1
        if outcome is Outcome.WRONG:
            wrong.append(f"[{query.template}] {query.sql}\n    {detail}")
    report = f"{dict(outcomes)}\n" + "\n".join(wrong[:15])
    print(report)
    assert len(reads) >= 1000
    assert not wrong, report
