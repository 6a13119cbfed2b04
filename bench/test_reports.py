#!/usr/bin/env python3
"""Tests of the benchmark reports (bench/proxy/report.py, bench/serving/serving.py): a figure is a
result only when it was measured, without errors, on processes that lived to the end. Run by
./scripts/test (python3 -m unittest discover -s bench)."""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY_REPORT = os.path.join(HERE, "proxy", "report.py")
SERVING = os.path.join(HERE, "serving", "serving.py")
PATHS = "direct|x|y\ntrellis-pair|x|y\nnginx-pair|x|y\nhaproxy-pair|x|y"


def run(*args):
    return subprocess.run([sys.executable, *args], check=True, capture_output=True, text=True).stdout


class ProxyReportTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.machine = os.path.join(self.dir.name, "machine.md")
        with open(self.machine, "w") as f:
            f.write("- machine: test\n")

    def tearDown(self):
        self.dir.cleanup()

    def table(self, rows, *extra, paths=PATHS):
        results = os.path.join(self.dir.name, "results.tsv")
        with open(results, "w") as f:
            for path, metric, value in rows:
                f.write(f"1\t{path}\t{metric}\t{value}\n")
        return run(PROXY_REPORT, "--results", results, "--machine", self.machine, "--paths", paths, "--rates", "1000", *extra)

    def healthy(self, figures=(("direct", 50000, 1.0), ("trellis-pair", 20000, 2.0), ("nginx-pair", 18000, 3.0), ("haproxy-pair", 17000, 3.0))):
        rows = []
        for path, rps, p99 in figures:
            rows += [(path, "rps_h1", rps), (path, "rps_h2", rps), (path, "errors_h1", 0), (path, "errors_h2", 0),
                     (path, "p99_ms@1000", p99), (path, "errors@1000", 0)]
            if path != "direct":
                for proxy in (f"{path}-a", f"{path}-b"):
                    rows += [(path, f"rss_idle_mb:{proxy}", 20), (path, f"rss_peak_mb:{proxy}", 40), (path, f"cpu_per_1k:{proxy}", 0.03)]
        return rows

    def test_table_HealthyRun_TicksTargetsFromMeasuredValues(self):
        out = self.table(self.healthy())
        self.assertIn("- [x] trellis-pair HTTP/1.1 throughput 1.11 × nginx-pair (≥ 1.00)", out)
        self.assertIn("- [x] trellis-pair-b RSS peak 40.0 MB ≤ 60 MB", out)
        self.assertNotIn("FAILED", out)

    def test_table_MtlsPair_JudgedAgainstTheBetterTlsPair(self):
        figures = (("direct", 50000, 1.0), ("trellis-pair", 20000, 2.0), ("trellis-pair-mtls", 15000, 2.5),
                   ("nginx-pair-tls", 12000, 3.5), ("haproxy-pair-tls", 16000, 2.2))
        paths = "\n".join(f"{p}|x|y" for p, _, _ in figures)
        out = self.table(self.healthy(figures), paths=paths)
        self.assertIn("- [ ] trellis-pair-mtls HTTP/1.1 throughput 0.94 × haproxy-pair-tls, the better TLS pair (≥ 1.00)", out)
        self.assertIn("- [x] trellis-pair-mtls added p99 @1000 rps 1.500 ms ≤ nginx-pair-tls 2.500 ms", out)
        self.assertIn("- [ ] trellis-pair-mtls added p99 @1000 rps 1.500 ms ≤ haproxy-pair-tls 1.200 ms", out)
        self.assertIn("- [x] trellis-pair-mtls 0.060 CPU-s per 1000 requests (both proxies) ≤ nginx-pair-tls 0.060", out)
        self.assertIn("| HTTP/1.1 req/s", out)

    def test_table_Http2UpstreamAndTcpRows_ReadAgainstTheirBaselines(self):
        figures = (("direct", 50000, 1.0), ("trellis-pair-h2", 15000, 2.5), ("nginx-pair-h2", 10000, 3.5), ("haproxy-pair-h2", 20000, 2.2),
                   ("trellis-tcp-pair", 30000, 1.5), ("haproxy-tcp-pair", 40000, 1.2))
        paths = "\n".join(f"{p}|x|y" for p, _, _ in figures)
        out = self.table(self.healthy(figures), paths=paths)
        # Every column gets the ratio; the trellis rows' are the ones read (1.50 and 0.75 × the h2 pairs, 0.75 × HAProxy tcp).
        self.assertIn("|   × nginx-pair-h2 | 5.00 | 1.50 | 1.00 | 2.00 | 3.00 | 4.00 |", out)
        self.assertIn("|   × haproxy-pair-h2 | 2.50 | 0.75 | 0.50 | 1.00 | 1.50 | 2.00 |", out)
        self.assertIn("|   × haproxy-tcp-pair | 1.25 | 0.38 | 0.25 | 0.50 | 0.75 | 1.00 |", out)

    def test_table_ProxyGone_RowSaysSoAndNoTargetTicked(self):
        # A proxy killed mid-run: its readers recorded empty values and check_alive a died: line.
        rows = [r for r in self.healthy() if r[1] != "rss_peak_mb:trellis-pair-b"]
        rows += [("trellis-pair", "rss_peak_mb:trellis-pair-b", ""), ("trellis-pair", "died:trellis-pair-b", "round 1, HTTP/2 run")]
        out = self.table(rows, "--failed", "a proxy process was gone")
        self.assertIn("**FAILED run: a proxy process was gone.", out)
        self.assertIn("| proxies alive to the end | – | ✗ trellis-pair-b gone (round 1, HTTP/2 run) | yes | yes |", out)
        targets = out[out.index("Targets"):]
        self.assertNotIn("trellis-pair-b RSS peak 0.0", out)
        self.assertNotIn("[x] trellis-pair", targets)
        self.assertIn("- [ ] trellis-pair-b RSS peak ≤ 60 MB: not met, trellis-pair-b gone (round 1, HTTP/2 run)", targets)

    def test_table_RowWithErrors_IsNotAMetTarget(self):
        rows = [r for r in self.healthy() if (r[0], r[1]) != ("trellis-pair", "errors_h2")] + [("trellis-pair", "errors_h2", 37)]
        out = self.table(rows)
        self.assertIn("| ✗ 37 |", out)
        self.assertIn("- [ ] trellis-pair HTTP/2 throughput ≥ nginx-pair: not met, trellis-pair had 37 errors (errors_h2)", out)
        self.assertIn("- [x] trellis-pair HTTP/1.1 throughput 1.11 × nginx-pair (≥ 1.00)", out)

    def test_table_ValueMissing_IsNotMeasuredRatherThanDefault(self):
        rows = [r for r in self.healthy() if r[1] != "cpu_per_1k:trellis-pair-a"] + [("trellis-pair", "cpu_per_1k:trellis-pair-a", "")]
        out = self.table(rows)
        self.assertIn("- [ ] trellis-pair-a CPU-s per 1000 requests ≤ 0.15: not measured", out)

    def test_latencyLog_UnansweredAndNon2xx_CountAsErrors(self):
        log = os.path.join(self.dir.name, "lat.log")
        with open(log, "w") as f:
            f.write("1\t200\t1000\n2\t200\t3000\n3\t503\t500\n")
        out = run(PROXY_REPORT, "--latency-log", log, "--duration", "1", "--expected", "5")
        self.assertIn("errors 3", out)     # one 503 and two never answered
        self.assertIn("p50_ms 1.000", out)  # percentiles of the 2xx answers only
        self.assertIn("achieved_rps 2", out)


class ServingReportTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.machine = os.path.join(self.dir.name, "machine.md")
        with open(self.machine, "w") as f:
            f.write("- machine: test\n")

    def tearDown(self):
        self.dir.cleanup()

    def report(self, rows, *extra):
        results = os.path.join(self.dir.name, "results.tsv")
        with open(results, "w") as f:
            for key, value in rows:
                f.write(f"{key}\t{value}\n")
        return run(SERVING, "report", "--results", results, "--timeline", os.path.join(self.dir.name, "none.tsv"),
                   "--machine", self.machine, "--trials", "3", *extra)

    def test_report_FailedColdTrial_CountedShownAndPairedPerTrial(self):
        rows = [("cold_ms", "1 300"), ("cold_ms", "2 failed: HTTP 502"), ("cold_ms", "3 340"),
                ("bare_ms", "1 200"), ("bare_ms", "2 250"), ("bare_ms", "3 220")]
        out = self.report(rows)
        self.assertIn("(n=3) | 300 ms | 340 ms |", out)
        self.assertIn("| ✗ 1 failed |", out)
        cold_row = next(line for line in out.splitlines() if line.startswith("| cold start, plain process"))
        self.assertNotIn("✓ met", cold_row)  # its p50 covers only the survivors
        # Trial 1: 300 - 200, trial 3: 340 - 220; trial 2's floor is not paired with trial 3.
        self.assertIn("paired per trial (n=2) | 100 ms | 120 ms |", out)

    def test_report_AllTrialsGood_TargetJudged(self):
        out = self.report([("cold_ms", "1 300"), ("cold_ms", "2 320"), ("bare_ms", "1 200"), ("bare_ms", "2 200")])
        self.assertIn("| 0 failed, ✓ met |", out)

    def test_report_ColdStartStages_FromInstanceTimesPairedPerTrial(self):
        # Trial 1: started 20 ms after the request, ready at 90, first byte at 100; by hand it listened at 60.
        rows = [("aot_ms", "1 100"), ("aot_ms_started", "1 20"), ("aot_ms_ready", "1 90"),
                ("aot_ms", "2 failed: HTTP 502"), ("aot_ms_started", "2 5"),
                ("aot_bare_ms", "1 70"), ("aot_bare_ms_listen", "1 60"), ("aot_bare_ms", "2 70")]
        out = self.report(rows)
        self.assertIn("request held → instance started (n=1) | 20.0 ms |", out)  # the failed trial is left out
        self.assertIn("instance started → ready (n=1) | 70.0 ms |", out)
        self.assertIn("ready → first byte (n=1) | 10.0 ms |", out)
        self.assertIn("readiness detection delay: (started → ready) − floor's spawn → listening, paired (n=1) | 10.0 ms |", out)
        self.assertIn("added by Trellis to the AOT function: cold start − floor, paired per trial (n=1) | 30 ms |", out)

    def test_report_LogStages_SideBySideWithTrellisOwnSummedPerTrial(self):
        stages = {"demand": (1, 2), "scale": (3, 3), "create": (9, 7), "started": (4, 4), "ready": (30, 40), "released": (5, 3)}
        rows = [("aot_ms", "1 60"), ("aot_ms", "2 70"), ("pool_ms", "1 90")]
        for name, (t1, t2) in stages.items():
            rows += [(f"aot_ms_log_{name}", f"1 {t1}"), (f"aot_ms_log_{name}", f"2 {t2}")]
        rows += [("aot_ms_log_first_byte", "1 8"), ("pool_ms_log_demand", "1 1")]
        out = self.report(rows)
        self.assertIn("| stage | Native AOT | pool |", out)  # only the columns measured, in order
        self.assertIn("| scale decided → instance created (Deployment write, scheduler placement, watch to the agent) (Trellis) | 7.0 | – |", out)
        self.assertIn("| started → ready (the function's own start; readiness seen on READY=1 or the probe) | 30.0 | – |", out)
        # Trellis's own per trial: 1+3+9+4+5 = 22 and 2+3+7+4+3 = 19; the pool trial lacks stages, so none.
        self.assertIn("| **Trellis's own: the (Trellis) stages summed per trial** (target ≤ 10 ms p50) | **19.0** | **–** |", out)

    def test_logMarks_ColdStartLines_StagesInOrderForItsRevisionOnly(self):
        sys.path.insert(0, os.path.join(HERE, "serving"))
        sys.path.insert(0, os.path.join(HERE, "proxy"))
        import coldstart
        from datetime import datetime
        lines = [
            "21:06:11.420 info: Trellis.Proxy.Serving[401] Demand for cluster outbound|80|cold-00001|cold.default.svc.cluster.local: 1 requests waiting for an endpoint\n",
            "21:06:11.428 info: Trellis.Proxy.Serving[401] Demand for cluster outbound|80|aot-00001|aot.default.svc.cluster.local: 1 requests waiting for an endpoint\n",
            "21:06:11.431 info: Trellis.ControlPlane.Serving.ServingController[2204] Serving: scaling revision default/aot-00001 from 0 to 1 (Stable)\n",
            "21:06:11.440 info: Trellis.Runtime.Supervisor[10] Workload default/aot-00001-deployment: creating instance aot-00001-deployment-taidk (revision 8315)\n",
            "21:06:11.441 info: Trellis.Runtime.Supervisor[1] Instance cold-00001-deployment-zzzzz started: pid 1, port 2, command x\n",
            "21:06:11.444 info: Trellis.Runtime.Supervisor[1] Instance aot-00001-deployment-taidk started: pid 30763, port 33769, command f\n",
            "21:06:11.614 info: Trellis.Runtime.Supervisor[4] Instance aot-00001-deployment-taidk is ready\n",
            "21:06:11.619 info: Trellis.Proxy.Serving[405] Cluster outbound|80|aot-00001|aot.default.svc.cluster.local: 1 held requests released to its endpoints\n",
        ]
        sent = datetime(2026, 12, 7, 21, 6, 11, 427000).timestamp()
        marks = coldstart.log_marks(lines, "aot-00001", sent)
        steps = [round((marks[n] - p) * 1000) for n, p in zip(
            ["demand", "scale", "create", "started", "ready", "released"],
            [sent, marks["demand"], marks["scale"], marks["create"], marks["started"], marks["ready"]])]
        self.assertEqual([1, 3, 9, 4, 170, 5], steps)
        self.assertEqual({"demand"}, set(coldstart.log_marks(lines[:3], "cold-00001", sent - 0.01)))  # no scale line for cold

    def test_report_LatencyErrors_ShownAndNotMet(self):
        rows = [("direct_p50", "0.5"), ("direct_p99", "1.0"), ("direct_errors", "0"),
                ("gateway_p50", "0.9"), ("gateway_p99", "1.5"), ("gateway_errors", "12")]
        out = self.report(rows, "--failed", "requests failed")
        self.assertIn("**FAILED run: requests failed.", out)
        self.assertIn("| ✗ 12 errors |", out)
        self.assertIn("✗ not met: errors in the runs", out)

    def test_pct_UnansweredRequests_CountAsErrors(self):
        log = os.path.join(self.dir.name, "lat.log")
        with open(log, "w") as f:
            f.write("1\t200\t1000\n2\t500\t1000\n")
        out = run(SERVING, "pct", log, "--expected", "4")
        self.assertIn("ok 1", out)
        self.assertIn("errors 3", out)


if __name__ == "__main__":
    unittest.main()
