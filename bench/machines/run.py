#!/usr/bin/python3
"""Two emulated machines of four processes each, joined by a rate-limited link, and the
simulator's prediction beside each measured time.

Each machine is a network namespace; a veth pair joins them, each end's egress shaped by a tc
token bucket (tbf) to --rate. Open MPI's launcher runs in the first namespace; the ranks of the
second reach its PMIx server over the veth (PMIx 4 has only a TCP transport, so a launcher in the
root namespace could not be reached from there). Ranks 0-3 are machine 0, ranks 4-7 machine 1
(--ranks-per-node 4); inside a machine they share memory, between machines meshreduce's traffic
is MPI over TCP over the veth.

1. Probe: a TCP stream each way at once between the namespaces (probe.py); the median rate of
   --probe-runs runs, not the tbf setting, is the link of the topology file written
   (--topology-out, default data/topologies/emulated-2x4-netns.json). The machines' insides are
   copied from --machine-model (same host, same sharing of its cores).
2. Bench: for each round, each algorithm in turn (the order rotated each round), one
   `meshreduce bench --backend processes` over all sizes; per algorithm and size the median over
   rounds of the row's time (itself the median over calls, each from the earliest rank's start to the
   latest rank's end).
3. Simulate: `meshreduce simulate --topology <that file> -a NAME --sizes ...`.
4. The table: measured out of place (and in place), ring's time over each algorithm's (out of
   place, per round, then the median), the prediction and prediction / measured.

The namespaces are removed on exit, on an error and on SIGINT/SIGTERM. Where `ip netns add` is
not permitted the emulation falls back to TCP on loopback, and says so.

    bench/machines/run.py [--rate 500mbit] [--sizes 16M,64M] [--rounds 3] [-n 5] [--warmup 2]
                          [--algorithms hierarchical-rs,ring,auto,direct,dgx1-hierarchical]
"""
import argparse
import datetime
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RANKS_PER_MACHINE = 4
MACHINES = 2
# tbf: burst must hold at least rate / HZ bytes or the shaper cannot reach its rate; 256 KiB
# covers 2 Gbit/s at HZ 1000 eight times over. latency bounds the queue (packets waiting longer
# are dropped), generous so that TCP, not drops, sets the pace.
TBF_BURST = "256kb"
TBF_LATENCY = "50ms"
RUN_TIMEOUT_S = 900  # one bench run (all sizes, out of place and in place); then it is killed


def log(text):
    print(text, file=sys.stderr, flush=True)


def run(command, **kwargs):
    return subprocess.run(command, check=True, **kwargs)


class Machines:
    """Two network namespaces joined by a shaped veth pair; `close()` removes them."""

    def __init__(self, rate):
        tag = f"mrm{os.getpid()}"
        self.names = [f"{tag}a", f"{tag}b"]
        self.links = [f"{tag}va", f"{tag}vb"]
        self.subnet = f"10.78.{os.getpid() % 250}"
        self.addresses = [f"{self.subnet}.1", f"{self.subnet}.2"]
        self.rate = rate
        self.made = []

    def open(self):
        for name in self.names:
            run(["ip", "netns", "add", name], capture_output=True)
            self.made.append(name)
        run(["ip", "link", "add", self.links[0], "type", "veth", "peer", "name", self.links[1]])
        for name, link, address in zip(self.names, self.links, self.addresses):
            run(["ip", "link", "set", link, "netns", name])
            run(["ip", "-n", name, "addr", "add", f"{address}/24", "dev", link])
            run(["ip", "-n", name, "link", "set", link, "up"])
            run(["ip", "-n", name, "link", "set", "lo", "up"])
            if self.rate != "off":
                run(["ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", link, "root", "tbf", "rate", self.rate,
                     "burst", TBF_BURST, "latency", TBF_LATENCY])

    def close(self):
        # Deleting a namespace deletes its end of the veth, and with it the pair.
        for name in self.made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.made = []

    def prefix(self, machine):
        return ["ip", "netns", "exec", self.names[machine]]

    def cidr(self):
        return f"{self.subnet}.0/24"


class Loopback:
    """The fallback: both machines on this host's loopback, no shaping."""

    addresses = ["127.0.0.1", "127.0.0.1"]
    rate = "none (loopback)"

    def open(self):
        pass

    def close(self):
        pass

    def prefix(self, machine):
        return []

    def cidr(self):
        return "lo"


def namespaces_allowed():
    probe = f"mrm{os.getpid()}probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True)
    if made.returncode != 0:
        return False, made.stderr.decode(errors="replace").strip()
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return True, ""


def run_group(command, env, timeout):
    """Runs a command in its own process group; on timeout the whole group is killed."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {process.returncode}:\n{err[-3000:]}")
    return out


def probe(machines, count, runs):
    rates = []
    port = 20000 + os.getpid() % 20000
    script = os.path.join(HERE, "probe.py")
    for i in range(runs):
        server = subprocess.Popen(machines.prefix(1) + [sys.executable, script, "serve", machines.addresses[1],
                                                        str(port + i), str(count)],
                                  stdout=subprocess.PIPE, text=True, start_new_session=True)
        try:
            client = run_group(machines.prefix(0) + [sys.executable, script, "connect", machines.addresses[1],
                                                     str(port + i), str(count)], None, 300)
            served, _ = server.communicate(timeout=300)
        except BaseException:
            os.killpg(server.pid, signal.SIGKILL)
            raise
        for line in (client, served):
            rates.append(json.loads(line)["receive_MBps"] / 1000)
    return rates


def write_topology(path, model_path, rate_gbps, rates, machines, count):
    with open(model_path) as f:
        topology = json.load(f)
    topology["name"] = os.path.splitext(os.path.basename(path))[0]
    network = [link for link in topology["links"] if link["kind"] == "network"]
    if len(network) != 1:
        sys.exit(f"{model_path}: expected one network link between the two machines, found {len(network)}")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    network[0]["bandwidth_gbps"] = round(rate_gbps, 4)
    network[0]["source"] = (
        f"measured: TCP between the two emulated machines, both directions at once "
        f"(bench/machines/probe.py, {count >> 20} MiB each way), median of {len(rates)} directions "
        f"({min(rates):.3f}-{max(rates):.3f} GB/s) over a veth pair shaped by tc tbf to {machines.rate} per direction, "
        f"load average {os.getloadavg()[0]:.1f}, {when}")
    with open(path, "w") as f:
        json.dump(topology, f, indent=1)
        f.write("\n")


def network_gbytes(path):
    with open(path) as f:
        links = [link for link in json.load(f)["links"] if link["kind"] == "network"]
    if len(links) != 1:
        sys.exit(f"{path}: expected one network link between the two machines, found {len(links)}")
    return float(links[0]["bandwidth_gbps"])


def mpirun_command(machines, binary, bench_args):
    common = ["--oversubscribe", "--bind-to", "none", "--mca", "pml", "ob1", "--mca", "btl", "self,tcp",
              "--mca", "btl_tcp_if_include", machines.cidr()]
    if isinstance(machines, Loopback):
        return ["mpirun.openmpi"] + common + ["-n", str(MACHINES * RANKS_PER_MACHINE), binary] + bench_args
    return (machines.prefix(0) + ["mpirun.openmpi"] + common + ["--mca", "oob_tcp_if_include", machines.cidr(),
            "-n", str(RANKS_PER_MACHINE), binary] + bench_args +
            [":", "-n", str(RANKS_PER_MACHINE)] + machines.prefix(1) + [binary] + bench_args)


def mpi_environment(machines):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    if not isinstance(machines, Loopback):
        env.update(PMIX_MCA_ptl_tcp_remote_connections="1", PMIX_MCA_ptl_tcp_if_include=machines.cidr())
    return env


def bench(machines, binary, algorithm, sizes, args, network_gbit):
    bench_args = ["bench", "--backend", "processes", "--ranks-per-node", str(RANKS_PER_MACHINE), "-a", algorithm,
                  "--network-gbps", f"{network_gbit:.4f}",
                  "-b", sizes[0], "-e", sizes[-1], "-f", str(args.factor), "-n", str(args.iterations),
                  "--warmup", str(args.warmup), "--no-probe", "--json", "--timeout", str(args.timeout)]
    out = run_group(mpirun_command(machines, binary, bench_args), mpi_environment(machines), RUN_TIMEOUT_S)
    report = json.loads(out[out.index("{"):])
    if report.get("machines") != MACHINES:
        sys.exit(f"bench reported {report.get('machines')} machines, expected {MACHINES}")
    rows = {}
    for row in report["results"]:
        if row["wrong"] or row["in_place"]["wrong"]:
            sys.exit(f"{algorithm} {row['bytes']} bytes: wrong elements; the figures do not count")
        rows[row["bytes"]] = (row["time_us"] / 1000, row["in_place"]["time_us"] / 1000)
    return rows


def simulate(binary, topology, algorithm, size):
    """The simulator's time (ms) of one tensor of `size` bytes, and the algorithm it ran (auto's pick)."""
    out = run([binary, "simulate", "--topology", topology, "-a", algorithm, "--sizes", size],
              capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s+(\S+(?: \([^)]*\))?)\s+([0-9.]+)\s", line)
        if m:
            return m.group(1), float(m.group(2)) / 1000
    sys.exit(f"meshreduce simulate printed no row for {algorithm} at {size}:\n{out}")


def shown(path):
    """A path inside the project relative to its root, any other as it is."""
    relative = os.path.relpath(os.path.abspath(path), ROOT)
    return path if relative.startswith("..") else relative


def parse_size(text):
    m = re.fullmatch(r"(\d+)([KMG]?)(?:i?B)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"size '{text}': expected e.g. 16M")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meshreduce", default=os.path.join(ROOT, "build/tools/meshreduce/meshreduce"))
    parser.add_argument("--rate", default="500mbit",
                        help="tc tbf rate of each direction of the link, or 'off' (default 500mbit: a 16 MiB "
                             "call's bytes between machines then take 280 ms (hierarchical-rs) to 490 ms (ring), "
                             "more than the whole job takes on an unshaped link on the 2 shared cores, 137-200 ms "
                             "at load 25, so the link is what limits; at 2gbit, 70-123 ms, it is not)")
    parser.add_argument("--sizes", default="16M,64M")
    parser.add_argument("--algorithms", default="hierarchical-rs,ring,auto,direct,dgx1-hierarchical")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-n", "--iterations", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=120, help="bench --timeout, seconds")
    parser.add_argument("--probe-bytes", type=parse_size, default=parse_size("256M"))
    parser.add_argument("--probe-runs", type=int, default=3)
    parser.add_argument("--machine-model", default=os.path.join(ROOT, "data/topologies/emulated-2x4-loopback.json"),
                        help="topology whose devices, machines and levels the written file copies")
    parser.add_argument("--topology-out", default=os.path.join(ROOT, "data/topologies/emulated-2x4-netns.json"))
    parser.add_argument("--topology", help="use this topology file instead of probing and writing one")
    parser.add_argument("--loopback", action="store_true", help="use TCP on loopback even where namespaces work")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.replace(" ", ",").split(",") if s.strip()]
    size_bytes = [parse_size(s) for s in sizes]
    algorithms = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    if args.rounds < 1 or args.iterations < 1 or not sizes or not algorithms or args.probe_runs < 1:
        parser.error("--rounds, -n, --probe-runs, --sizes and --algorithms need at least one")
    if sorted(size_bytes) != size_bytes or any(b != size_bytes[0] << (2 * i) for i, b in enumerate(size_bytes)):
        parser.error("--sizes: give sizes that grow by 4x each (the bench sweeps -b .. -e with -f 4)")
    args.factor = 4
    if "ring" not in algorithms:
        parser.error("--algorithms must include ring (the ratios are against the flat ring)")
    if not os.access(args.meshreduce, os.X_OK):
        parser.error(f"--meshreduce {args.meshreduce}: not an executable (build first)")

    allowed, why = (False, "--loopback given") if args.loopback else namespaces_allowed()
    machines = Machines(args.rate) if allowed else Loopback()
    if not allowed:
        log(f"# network namespaces not available ({why}): falling back to TCP on loopback, where the two "
            f"emulated machines share this host's loopback and no rate limit applies")

    def stop(signum, _frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    loads = []
    measured = {}  # (algorithm, bytes) -> [(out of place ms, in place ms) per round]
    try:
        machines.open()
        topology = args.topology
        if topology is None:
            rates = probe(machines, args.probe_bytes, args.probe_runs)
            rate = statistics.median(rates)
            topology = args.topology_out if allowed else os.path.join(tempfile.gettempdir(),
                                                                       f"emulated-2x4-loopback-{os.getpid()}.json")
            write_topology(topology, args.machine_model, rate, rates, machines, args.probe_bytes)
            log(f"# link probe: {rate:.3f} GB/s per direction, both at once (median of {len(rates)}: "
                f"{', '.join(f'{r:.3f}' for r in rates)}); written to {topology}")
        # auto plans with the network rate a user states (--network-gbps, in Gbit/s): the link's, as
        # the topology file has it (GB/s).
        network_gbit = 8 * network_gbytes(topology)
        log(f"# bench --network-gbps {network_gbit:.4f} (the topology's link)")
        for r in range(args.rounds):
            order = algorithms[r % len(algorithms):] + algorithms[:r % len(algorithms)]
            for algorithm in order:
                loads.append(os.getloadavg()[0])
                rows = bench(machines, args.meshreduce, algorithm, sizes, args, network_gbit)
                for b in size_bytes:
                    measured.setdefault((algorithm, b), []).append(rows[b])
                log(f"# round {r + 1}/{args.rounds} {algorithm}: " +
                    ", ".join(f"{s} {rows[b][0]:.1f}/{rows[b][1]:.1f} ms" for s, b in zip(sizes, size_bytes)) +
                    f" (load {loads[-1]:.1f})")
    finally:
        machines.close()

    predicted = {(a, s): simulate(args.meshreduce, topology, a, s) for a in algorithms for s in sizes}
    print(f"# {MACHINES} emulated machines x {RANKS_PER_MACHINE} processes, "
          f"{'network namespaces, veth shaped to ' + machines.rate if allowed else 'TCP on loopback (fallback)'}; "
          f"topology {shown(topology)}")
    print(f"# f32 sum, private buffers; time = median over {args.rounds} interleaved rounds of the bench row "
          f"(median over {args.iterations} calls, earliest start to latest end); load average "
          f"{min(loads):.1f}-{max(loads):.1f}")
    print(f"# {'size':>6} {'algorithm':<20} {'out of place':>12} {'in place':>9} {'ring/this':>10} "
          f"{'predicted':>10} {'pred/meas':>9}   simulated as")
    for s, b in zip(sizes, size_bytes):
        ring = measured[("ring", b)]
        for algorithm in algorithms:
            times = measured[(algorithm, b)]
            oop = statistics.median(t[0] for t in times)
            inp = statistics.median(t[1] for t in times)
            ratio = statistics.median(ring[i][0] / times[i][0] for i in range(len(times)))
            label, p = predicted[(algorithm, s)]
            print(f"  {s:>6} {algorithm:<20} {oop:>9.1f} ms {inp:>6.1f} ms {ratio:>9.2f}x {p:>7.1f} ms "
                  f"{p / oop:>9.2f}   {label}")


if __name__ == "__main__":
    main()
