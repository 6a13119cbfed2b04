"""Reads what bench/proxy/hot-methods.sh recorded and prints trellis-proxy's managed methods to lay out together:
first the sampled ones, hottest first, then every other one that took a page fault after start-up, in fault order.
Only managed code (ILC's __managedcode and __unbox sections): ILC orders what it emits, not the runtime's C++."""
import bisect
import collections
import sys

sections_file, symbols_file, samples_file = sys.argv[1:4]
faults_files = sys.argv[4:]  # one per process: each has its own base address

managed = []
for line in open(sections_file):
    fields = line.replace("[ ", "[").split()
    for name in ("__managedcode", "__unbox"):
        if name in fields:
            i = fields.index(name)
            start, size = int(fields[i + 2], 16), int(fields[i + 4], 16)
            managed.append((start, start + size))

addresses, names = [], []
for line in open(symbols_file):
    fields = line.split()
    if len(fields) == 3 and fields[1] in "tT":
        addresses.append(int(fields[0], 16))
        names.append(fields[2])


def method_at(offset):
    if not any(lo <= offset < hi for lo, hi in managed):
        return None
    i = bisect.bisect_right(addresses, offset) - 1
    return names[i] if i >= 0 else None


by_name = {n: a for a, n in zip(addresses, names)}
counts = collections.Counter()
for line in open(samples_file):
    fields = line.split()
    if len(fields) >= 3 and "trellis-proxy" in fields[-1] and fields[1] in by_name and method_at(by_name[fields[1]]):
        counts[fields[1]] += 1
order = [n for n, _ in counts.most_common()]

# Faults: per process, everything after its first MADV_DONTNEED (StartupMemory.Release; its first mapping is the
# executable's first, at file offset 0, so its address is the base the symbols are relative to).
seen = set(order)
for faults_file in faults_files:
    events = []
    for line in open(faults_file):
        fields = line.split()
        if len(fields) < 4:
            continue
        time = float(fields[1].rstrip(":"))
        if "sys_enter_madvise" in line and "behavior: 0x00000004" in line:
            events.append((time, "release", int(line.split("start: ")[1].split(",")[0], 16)))
        elif "page-faults" in line:
            events.append((time, "fault", int(fields[3], 16)))
    events.sort()
    release = None
    for _, kind, address in events:
        if kind == "release":
            release = release or address
        elif release is not None and (name := method_at(address - release)) and name not in seen:
            seen.add(name)
            order.append(name)
print("\n".join(order))
