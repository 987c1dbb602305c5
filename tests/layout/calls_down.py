"""Every file of a program calls only down: from the object files of
each program (nm), the graph of which file uses which other file's
symbols has no cycle.  ARCHITECTURE.md says who may call whom."""

import os
import subprocess
import sys

BUILD = sys.argv[1]
PROGRAMS = ["ingest", "matcher", "firer", "logview", "report"]


def symbols(obj, defined):
    args = ["nm", "--defined-only" if defined else "-u", obj]
    out = subprocess.run(args, capture_output=True, text=True,
                         check=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if defined and len(parts) == 3 and parts[1] in "TDBR":
            names.add(parts[2])
        elif not defined and parts:
            names.add(parts[-1])
    return names


def graph(program):
    d = os.path.join(BUILD, program + ".p")
    objs = sorted(f for f in os.listdir(d) if f.endswith(".o"))
    defs = {o: symbols(os.path.join(d, o), True) for o in objs}
    uses = {o: symbols(os.path.join(d, o), False) for o in objs}
    return {o: {p for p in objs if p != o and uses[o] & defs[p]}
            for o in objs}


def cycle(g):
    """A cycle of g as a list of nodes, or None."""
    state = {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(g[n]):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state:
                found = visit(m, path + [m])
                if found:
                    return found
        state[n] = 2
        return None

    for n in sorted(g):
        if n not in state:
            found = visit(n, [n])
            if found:
                return found
    return None


def main():
    failed = 0
    for p in PROGRAMS:
        c = cycle(graph(p))
        if c:
            failed += 1
            print("FAIL %s: %s" % (p, " -> ".join(
                x.replace(".c.o", ".c").replace(p + "_", p + "/")
                for x in c)))
        else:
            print("ok   %s: its files call only down" % p)
    print("%d passed, %d failed" % (len(PROGRAMS) - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
