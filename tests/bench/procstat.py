"""procstat.py: CPU time and memory of process trees, from /proc (make bench).

A proxy is measured as its whole process tree (sipedge: one process with its
worker threads; Kamailio: a main process and its forked children), so
nothing it does is left out.  Memory is PSS (proportional set size, from
smaps_rollup): Kamailio's processes share one shared-memory segment, and
summing their RSS would count each shared page once per process.  For a
single process PSS is its RSS less its share of shared libraries.
Standard library only.
"""

import os

TICK = os.sysconf("SC_CLK_TCK")


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(root):
    """root and all its descendants."""
    kids = children_map()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _stat_seconds(p):
    with open("/proc/%d/stat" % p) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(TICK)


def _ticks(path):
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pids):
    """CPU seconds of pids, all their threads: the scheduler's nanosecond
    run time of each live thread (schedstat), plus the time of threads that
    have exited (the process's utime + stime minus its live threads', in
    clock ticks: a relay that runs a thread per connection, as stunnel does,
    would otherwise lose their time and show less CPU at the end of a window
    than at its start).  utime + stime alone (10 ms steps) where the kernel
    keeps no schedstat."""
    t = 0.0
    for p in pids:
        try:
            tids = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        try:
            ns, live_ticks = 0, 0
            for tid in tids:
                try:
                    with open("/proc/%d/task/%s/schedstat" % (p, tid)) as f:
                        run = int(f.read().split()[0])
                    ticks = _ticks("/proc/%d/task/%s/stat" % (p, tid))
                except FileNotFoundError:
                    continue        # exited meanwhile: counted with the gone ones
                ns += run
                live_ticks += ticks
            gone = max(0, _ticks("/proc/%d/stat" % p) - live_ticks)
            t += ns / 1e9 + gone / float(TICK)
        except (OSError, IndexError, ValueError):
            try:
                t += _stat_seconds(p)
            except (OSError, IndexError, ValueError):
                pass
    return t


def thread_seconds(pid):
    """{thread id: CPU seconds} of pid's live threads (schedstat): how a
    process's work is spread over its threads."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                out[int(tid)] = int(f.read().split()[0]) / 1e9
        except (OSError, IndexError, ValueError):
            pass
    return out


def pss_kib(pids):
    t = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        t += int(line.split()[1])
                        break
        except OSError:
            pass
    return t


def machine_busy():
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


class Window(object):
    """CPU used by some process trees and by the whole machine between
    start() and stop(): .cpu[name] in CPU seconds, .wall seconds,
    .machine_pct (all CPUs busy, in % of one core)."""

    def __init__(self, roots):
        self.roots = dict(roots)     # name -> root pid (or None)

    def _sample(self):
        import time
        out = {}
        for name, root in self.roots.items():
            out[name] = cpu_seconds(tree(root)) if root else 0.0
        return time.monotonic(), machine_busy(), out

    def start(self):
        self.t0, self.m0, self.c0 = self._sample()
        return self

    def stop(self):
        t1, m1, c1 = self._sample()
        self.wall = max(1e-6, t1 - self.t0)
        self.cpu = dict((k, c1[k] - self.c0.get(k, 0.0)) for k in c1)
        ncpu = os.cpu_count() or 1
        busy, total = m1[0] - self.m0[0], m1[1] - self.m0[1]
        self.machine_pct = 100.0 * ncpu * busy / float(max(1, total))
        return self

    def pct(self, name):
        """CPU of name in % of one core over the window."""
        return 100.0 * self.cpu.get(name, 0.0) / self.wall
