#!/usr/bin/env python3
"""tests/cluster/results.py: checks on a sink's JSON Lines output for the
cluster scenarios, tuple by tuple.  Standard library only.

  results.py check FILE JOB N     ids 1..N each exactly once; prints
                                  "N tuples, L lost, D duplicated" and more;
                                  exit 0 only when L = D = 0
  results.py agents FILE JOB      results per agent: "AGENT COUNT" lines
  results.py scan FILE JOB EXPECTED
                                  tcp-probe results against EXPECTED lines
                                  "HOST PORT STATE"; prints the open and
                                  filtered ports and every difference; exit
                                  0 only when they are exactly equal
  results.py rows FILE JOB FIELD...
                                  one tab-separated line per result
"""
import collections
import json
import sys


def results(path, job):
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                yield None
                continue
            if r.get("job") == job:
                yield r


def check(path, job, n):
    n = int(n)
    seen = collections.Counter()
    attempts = collections.Counter()
    agents = collections.Counter()
    bad = failed = 0
    for r in results(path, job):
        if r is None or not isinstance(r.get("tuple"), int) or not 1 <= r["tuple"] <= n:
            bad += 1
            continue
        seen[r["tuple"]] += 1
        attempts[r.get("attempt")] += 1
        agents[r.get("agent")] += 1
        if r.get("status") == "failed":
            failed += 1
    lost = sum(1 for i in range(1, n + 1) if i not in seen)
    dup = sum(c - 1 for c in seen.values())
    print(f"{n} tuples, {lost} lost, {dup} duplicated")
    print(f"output: {sum(seen.values())} results, {failed} dead letters, {bad} unreadable or foreign")
    print("attempts: " + ", ".join(f"{a}: {c}" for a, c in sorted(attempts.items(), key=str)))
    print("agents: " + ", ".join(f"{a} {c}" for a, c in sorted(agents.items(), key=str)))
    if lost:
        print("lost ids (first 20): " + " ".join(str(i) for i in range(1, n + 1) if i not in seen)[:200])
    if dup:
        print("duplicated ids (first 20): " + " ".join(str(i) for i, c in seen.items() if c > 1)[:200])
    return 0 if lost == 0 and dup == 0 and bad == 0 else 1


def agents(path, job):
    count = collections.Counter(r.get("agent") for r in results(path, job) if r)
    for agent, c in sorted(count.items(), key=str):
        print(agent, c)
    return 0


def scan(path, job, expected_path):
    expected = {}
    with open(expected_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                host, port, state = line.split()
                expected[(host, int(port))] = state
    got = {}
    by = collections.defaultdict(set)
    for r in results(path, job):
        out = (r or {}).get("output") or {}
        key = (out.get("host"), out.get("port"))
        if key in got:
            got[key] = "DUPLICATE"
        else:
            got[key] = out.get("state", r.get("status") if r else "unreadable")
        by[key].add(r.get("agent") if r else None)
    wrong = 0
    for key in sorted(set(expected) | set(got), key=lambda k: (str(k[0]), k[1] or 0)):
        exp, found = expected.get(key, "-"), got.get(key, "-")
        if exp != found:
            wrong += 1
            print(f"wrong: {key[0]} port {key[1]}: expected {exp}, found {found}"
                  f" (agent {','.join(sorted(map(str, by[key])))})")
    for state in ("open", "filtered"):
        table = collections.defaultdict(list)
        for (host, port), s in sorted(got.items(), key=lambda kv: (str(kv[0][0]), kv[0][1] or 0)):
            if s == state:
                table[host].append(str(port))
        print(f"{state}: " + "; ".join(f"{h} {','.join(p)}" for h, p in table.items()))
    print(f"{len(expected)} probes expected, {len(got)} found, {wrong} wrong")
    return 0 if wrong == 0 else 1


def rows(path, job, *fields):
    for r in results(path, job):
        if r:
            print("\t".join(str(r.get(f, "")) for f in fields))
    return 0


def main(argv):
    commands = {"check": check, "agents": agents, "scan": scan, "rows": rows}
    if len(argv) < 3 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return commands[argv[0]](*argv[1:])
    except FileNotFoundError as e:
        print(f"results.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
