"""SQL -> plan: normalization, parsing on a plan-cache miss, and plan building."""
