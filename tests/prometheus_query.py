#!/usr/bin/env python3
# prometheus_query.py -- an independent reader of /metrics for the tests
# (test_daemon_http.c): parse METRICS_FILE with prometheus_client's parser,
# which fails on what the exposition format does not allow, then print for
# each line of QUERIES_FILE ("name<TAB>label=value<TAB>...") the sum of the
# values of the samples that match, or "none".
# Usage: prometheus_query.py METRICS_FILE QUERIES_FILE
import sys

from prometheus_client.parser import text_string_to_metric_families

with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
with open(sys.argv[2], encoding="utf-8") as f:
    queries = [line for line in f.read().split("\n") if line]
for query in queries:
    name, *pairs = query.split("\t")
    want = dict(pair.split("=", 1) for pair in pairs)
    found = [s.value for s in samples
             if s.name == name and all(s.labels.get(k) == v for k, v in want.items())]
    print(sum(found) if found else "none")
