#!/usr/bin/env python3
"""Independent reference for core/sr_metrics.c (standard library only).

Reads queries, one per line: "<rank> <target_skipped>", where rank is a
1-based rank or -1 for a target the model has never seen, and target_skipped
is 0 or 1. Prints "<key> <value>" for every metric key, in the order
sr_metrics_visit documents. Means of an empty group print as "nan".
Used by tests/unit/test_metrics.c (test_metrics_match_python_reference).
"""
import math
import sys

KS = (1, 5, 10, 20)


def group_metrics(ranks):
    """ranks: list of ints (-1 = unseen). Returns {name: [value per K]}."""
    n = len(ranks)
    out = {}
    for name in ("hr", "ndcg", "mrr"):
        vals = []
        for k in KS:
            terms = []
            for r in ranks:
                if r == -1 or r > k:
                    terms.append(0.0)
                elif name == "hr":
                    terms.append(1.0)
                elif name == "ndcg":
                    terms.append(1.0 / math.log2(r + 1))
                else:
                    terms.append(1.0 / r)
            vals.append(math.fsum(terms) / n if n else float("nan"))
        out[name] = vals
    return out


def main():
    queries = []
    with open(sys.argv[1]) as f:
        for line in f:
            if line.strip():
                r, s = line.split()
                queries.append((int(r), int(s) != 0))
    groups = [
        ("", "", [r for r, _ in queries]),
        ("listened_", "listened_", [r for r, s in queries if not s]),
        ("skip_", "skipped_", [r for r, s in queries if s]),
    ]
    for prefix, _, ranks in groups:
        m = group_metrics(ranks)
        for name in ("hr", "ndcg", "mrr"):
            for k, v in zip(KS, m[name]):
                print(f"{prefix}{name}@{k} {v!r}")
    for _, cname, ranks in groups:
        print(f"n_{cname}queries {len(ranks)}")
    for _, cname, ranks in groups:
        print(f"n_{cname}unseen_queries {sum(1 for r in ranks if r == -1)}")


if __name__ == "__main__":
    main()
