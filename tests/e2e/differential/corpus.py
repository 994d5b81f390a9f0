"""The seeded query corpus: every read template ``count`` times (shuffled, so plans get re-used with other
values), then the DML scripts, which change only rows of their own."""

from __future__ import annotations

import random
from dataclasses import replace

from .dml import DML
from .query import Params, Script
from .reads import READS
from .schema import generate


def corpus(seed: int) -> list[Script]:
    """The scripts for the data of ``generate(seed)``; reads are one-query scripts."""
    params = Params(random.Random(f"corpus-{seed}"), generate(seed))
    reads = [
        Script(name, (replace(template(params), template=name),))
        for name, (count, template) in READS.items()
        for _ in range(count)
    ]
    params.rng.shuffle(reads)
    scripts = []
    for name, (count, template) in DML.items():
        for _ in range(count):
            queries = template(params, len(scripts))
            scripts.append(Script(name, tuple(replace(query, template=name) for query in queries)))
    return reads + scripts
