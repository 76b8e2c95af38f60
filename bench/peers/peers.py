#!/usr/bin/env python3
"""Driver of bench/peers/run, inside tests/cluster/with-cluster: the cost of admission for hook
Jobs, side by side, in one run with the configurations interleaved.

Configurations (each one alone active while it is measured, checked before and after):
  none      no admission of ours: no webhook registered, no admission policy, Kyverno off
  webhook   helm-hooks-webhook registered as scripts/register-local-webhook does (mutate + validate)
  onecall   the same webhook registered with --one-call: the mutating webhook alone on /admit
  cel       the ValidatingAdmissionPolicy + MutatingAdmissionPolicy pair and bindings that
            `kubectl hooks policy export --format admission-policy` makes of the default policy
  kyverno   Kyverno (out of cluster) with one ClusterPolicy equivalent to the default policy
  nonhook   the webhook registered, but the Jobs carry no helm.sh/hook annotation

Every create is a real POST of a suspended batch/v1 Job (deleted after each phase) over
keep-alive HTTPS (HTTP/1.1, client certificate of the admin kubeconfig). Per configuration and
round: a warm-up, a sequential phase (latency of each create) and a concurrent phase (WORKERS
connections, throughput). The check between configurations creates one probe Job per
configuration and requires exactly its signature: the defaults (spec.activeDeadlineSeconds)
present or absent, the webhook's or the policies' warning for an untagged image, the marker
annotation the Kyverno policy adds. Exits 1 when a check fails.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import signal
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

NS = "bench-peers"
NS_KYVERNO = "bench-peers-kyverno"
KYVERNO_LABEL = "bench.helm-hooks.io/kyverno"
# The configurations in which our webhook process answers.
WEBHOOK_CONFIGS = ("webhook", "onecall", "nonhook")
KYVERNO_MARKER = "bench.helm-hooks.io/mutated-by"
RUN_LABEL = "bench.helm-hooks.io/peers"


def log(msg):
    print(f"[peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(f"error: {msg}")
    raise SystemExit(1)


def kubectl(*args, stdin=None, check=True):
    r = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True)
    if check and r.returncode != 0:
        die(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


class Api:
    """Keep-alive HTTPS connections to the apiserver with the admin client certificate."""

    def __init__(self, server, pki):
        u = urllib.parse.urlsplit(server)
        self.host, self.port = u.hostname, u.port
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            die("loopback apiserver only")
        self.ctx = ssl.create_default_context(cafile=f"{pki}/ca.crt")
        self.ctx.load_cert_chain(f"{pki}/admin.crt", f"{pki}/admin.key")

    def conn(self):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)

    def request(self, conn, method, path, body=None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        return r.status, r.getheaders(), data


def job_body(name, hook, image="registry.example/migrate:1.0", marker_label=True):
    meta = {"name": name, "labels": {RUN_LABEL: "1"} if marker_label else {}}
    if hook:
        meta["annotations"] = {
            "helm.sh/hook": "pre-upgrade",
            "helm.sh/hook-weight": "0",
            "helm.sh/hook-delete-policy": "before-hook-creation",
        }
    return json.dumps({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            # Suspended: the admission path is what is measured; no Pods are made.
            "suspend": True,
            "backoffLimit": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "migrate",
                    "image": image,
                    "args": ["migrate", "--to", "latest"],
                    "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
                }],
            }},
        },
    }).encode()


def warnings_of(headers):
    out = []
    for k, v in headers:
        if k.lower() == "warning":
            m = re.match(r'^\d{3} \S+ "(.*)"', v)
            out.append(m.group(1).replace('\\"', '"') if m else v)
    return out


# --- processes --------------------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def scrape_webhook_metrics(api, conn):
    """apiserver_admission_webhook_admission_duration_seconds: {(name, type): (sum, count)}."""
    status, _, data = api.request(conn, "GET", "/metrics")
    if status != 200:
        die(f"GET /metrics: HTTP {status}")
    out = {}
    for line in data.decode().splitlines():
        m = re.match(r'^apiserver_admission_webhook_admission_duration_seconds_(sum|count)\{(.*)\} (\S+)$', line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if labels.get("operation") != "CREATE":
            continue
        key = (labels.get("name", "?"), labels.get("type", "?"))
        s, c = out.get(key, (0.0, 0.0))
        if m.group(1) == "sum":
            s += float(m.group(3))
        else:
            c += float(m.group(3))
        out[key] = (s, c)
    return out


def scrape_own_metrics(url, ca):
    """The webhook's own helm_hooks_webhook_request_duration_seconds: {endpoint: (sum, count)}."""
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(cafile=ca),
                                    timeout=10)
    c.request("GET", "/metrics")
    r = c.getresponse()
    data = r.read().decode()
    c.close()
    out = {}
    for line in data.splitlines():
        m = re.match(r'^helm_hooks_webhook_request_duration_seconds_(sum|count)\{(.*)\} (\S+)$', line)
        if not m:
            continue
        ep = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2))).get("endpoint", "?")
        s, n = out.get(ep, (0.0, 0.0))
        out[ep] = (s + float(m.group(3)), n) if m.group(1) == "sum" else (s, n + float(m.group(3)))
    return out


# --- the bench ----------------------------------------------------------------------------------

class Bench:
    def __init__(self, a):
        self.a = a
        self.api = Api(kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"),
                       f"{os.environ['HELM_HOOKS_CLUSTER_DIR']}/pki")
        self.work = a.work
        self.procs = {}
        self.seq = 0
        self.configs = ["none", "webhook", "onecall", "cel", "nonhook"] + (["kyverno"] if a.kyverno else [])
        self.results = {c: {"lat": [], "tput": [], "cpu": [], "rss": [], "calls": {}} for c in self.configs}
        self.loads = []

    # processes
    def start(self, name, argv, env=None):
        out = open(f"{self.work}/{name}.log", "w")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env={**os.environ, **(env or {})}, start_new_session=True)
        self.procs[name] = p
        return p

    def stop_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()

    def alive(self, name):
        p = self.procs.get(name)
        if p is None or p.poll() is not None:
            try:
                with open(f"{self.work}/{name}.log", errors="replace") as f:
                    tail = "".join(f.readlines()[-25:])
            except OSError:
                tail = ""
            die(f"{name} exited; the end of its log:\n{tail}")

    # set up
    def setup(self):
        a = self.a
        kubectl("create", "namespace", NS)
        kubectl("create", "namespace", NS_KYVERNO)
        kubectl("label", "namespace", NS_KYVERNO, f"{KYVERNO_LABEL}=on")
        subprocess.run([a.webhook, "certs", "--out-dir", f"{self.work}/certs", "--ip", "127.0.0.1",
                        "--dns", "localhost"], check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        self.start("webhook", [a.webhook, "serve", "--listen", f"127.0.0.1:{port}",
                               "--tls-cert", f"{self.work}/certs/tls.crt",
                               "--tls-key", f"{self.work}/certs/tls.key"])
        self.webhook_url = f"https://127.0.0.1:{port}"
        ctx = ssl.create_default_context(cafile=f"{self.work}/certs/ca.crt")
        for _ in range(100):
            self.alive("webhook")
            try:
                c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            die("the webhook did not get ready in 10 s")
        # The CEL pair, exported from the default policy by the plugin.
        r = subprocess.run([a.plugin, "policy", "export", "--format", "admission-policy",
                            "--policy", f"{a.root}/deploy/policy/default-hookpolicy.yaml"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            die(f"kubectl-hooks policy export: {r.stderr.strip()}")
        self.cel_file = f"{self.work}/cel.yaml"
        with open(self.cel_file, "w") as f:
            f.write(r.stdout)
        if a.kyverno:
            self.setup_kyverno()
        self.deactivate_all()

    def setup_kyverno(self):
        a = self.a
        env = dict(x.split("=", 1) for x in a.kyverno_env)
        argv = [a.kyverno, *a.kyverno_arg]
        log(f"starting Kyverno: {' '.join(argv)}")
        self.start("kyverno", argv, env)
        # Kyverno registers its own webhook configurations once it is ready; the policy
        # validating one first, then the resource ones for the policies it has compiled.
        for _ in range(1800):
            self.alive("kyverno")
            out = kubectl("get", "validatingwebhookconfigurations", "-o", "name", check=False)
            if "kyverno-policy-validating-webhook-cfg" in out:
                break
            time.sleep(0.1)
        else:
            die("Kyverno registered no policy webhook within 180 s")
        for _ in range(60):  # its webhook server may not answer at once
            r = subprocess.run(["kubectl", "apply", "-f", a.kyverno_policy], capture_output=True, text=True)
            if r.returncode == 0:
                break
            self.alive("kyverno")
            time.sleep(1)
        else:
            die(f"applying {a.kyverno_policy}: {r.stderr.strip()}")
        log("Kyverno is up, its ClusterPolicy applied")

    # activation
    def webhook_registered(self, on, one_call=False):
        if on:
            subprocess.run([f"{self.a.root}/scripts/register-local-webhook",
                            *(["--one-call"] if one_call else []), self.webhook_url,
                            f"{self.work}/certs/ca.crt"], check=True, stdout=subprocess.DEVNULL)
        else:
            kubectl("delete", "mutatingwebhookconfiguration/helm-hooks",
                    "validatingwebhookconfiguration/helm-hooks", "--ignore-not-found")

    def cel_applied(self, on):
        if on:
            kubectl("apply", "-f", self.cel_file)
        else:
            kubectl("delete", "-f", self.cel_file, "--ignore-not-found")

    def deactivate_all(self):
        self.webhook_registered(False)
        self.cel_applied(False)

    def activate(self, config):
        self.deactivate_all()
        if config in WEBHOOK_CONFIGS:
            self.webhook_registered(True, one_call=config == "onecall")
        elif config == "cel":
            self.cel_applied(True)

    def namespace(self, config):
        return NS_KYVERNO if config == "kyverno" else NS

    def probe(self, config, conn):
        """Creates one hook Job (untagged image: a warn-mode finding) and one non-hook Job in
        the configuration's namespace; returns what admission did to each, then deletes them."""
        ns = self.namespace(config)
        self.seq += 1
        out = {}
        for kind, hook in (("hook", True), ("plain", False)):
            name = f"probe-{kind}-{self.seq}"
            status, headers, data = self.api.request(
                conn, "POST", f"/apis/batch/v1/namespaces/{ns}/jobs",
                job_body(name, hook, image="registry.example/migrate", marker_label=False))
            if status == 403:
                # Refused by admission: a configuration half picked up (the CEL pair's
                # ValidatingAdmissionPolicy in force before its MutatingAdmissionPolicy) or the
                # wrong one active; check() retries, then reports it.
                out[kind] = {"refused": data[:300].decode(errors="replace")}
                continue
            if status != 201:
                die(f"{config}: probe Job {ns}/{name}: HTTP {status}: {data[:300]!r}")
            obj = json.loads(data)
            ws = warnings_of(headers)
            out[kind] = {
                "defaults": obj["spec"].get("activeDeadlineSeconds") == 600,
                "webhook_warning": any(w.startswith("image-tag: ") for w in ws),
                "cel_warning": any("helm-hooks rule image-tag" in w for w in ws),
                "kyverno_marker": (obj["metadata"].get("annotations") or {}).get(KYVERNO_MARKER) == "kyverno",
            }
            self.api.request(conn, "DELETE", f"/apis/batch/v1/namespaces/{ns}/jobs/{name}",
                             json.dumps({"propagationPolicy": "Background"}).encode())
        return out

    @staticmethod
    def expected(config):
        off = {"defaults": False, "webhook_warning": False, "cel_warning": False, "kyverno_marker": False}
        hook = dict(off)
        if config in WEBHOOK_CONFIGS:
            hook.update(defaults=True, webhook_warning=True)
        elif config == "cel":
            hook.update(defaults=True, cel_warning=True)
        elif config == "kyverno":
            hook.update(defaults=True, kyverno_marker=True)
        return {"hook": hook, "plain": off}

    def check(self, config, conn, wait):
        """Polls (up to `wait` s: registrations reach the apiserver asynchronously) until the
        probe shows exactly the configuration's signature; dies otherwise."""
        want = self.expected(config)
        deadline = time.monotonic() + wait
        while True:
            got = self.probe(config, conn)
            if got == want:
                return
            if time.monotonic() > deadline:
                die(f"check failed for configuration {config}: probe got {got}, expected {want}")
            time.sleep(0.5)

    # measurement
    def creates(self, config, conn, n, prefix, record):
        ns = self.namespace(config)
        hook = config != "nonhook"
        path = f"/apis/batch/v1/namespaces/{ns}/jobs"
        lat = []
        for i in range(n):
            body = job_body(f"{prefix}-{i}", hook)
            t = time.perf_counter()
            status, _, data = self.api.request(conn, "POST", path, body)
            dt = time.perf_counter() - t
            if status != 201:
                die(f"{config}: create {ns}/{prefix}-{i}: HTTP {status}: {data[:300]!r}")
            if record:
                lat.append(dt)
        return lat

    def concurrent(self, config, n, prefix):
        workers = self.a.workers
        errors = []
        conns = [self.api.conn() for _ in range(workers)]
        for c in conns:  # connect (TLS handshake) before the clock starts
            self.api.request(c, "GET", "/readyz")
        per = [n // workers + (1 if w < n % workers else 0) for w in range(workers)]
        barrier = threading.Barrier(workers + 1)

        def run(w):
            barrier.wait()
            try:
                self.creates(config, conns[w], per[w], f"{prefix}-w{w}", False)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        for c in conns:
            c.close()
        if errors:
            die(f"{config}: concurrent phase: {errors[0]}")
        return n / wall

    def cleanup_jobs(self, config, conn):
        ns = self.namespace(config)
        status, _, data = self.api.request(
            conn, "DELETE", f"/apis/batch/v1/namespaces/{ns}/jobs?labelSelector={RUN_LABEL}%3D1",
            json.dumps({"propagationPolicy": "Background"}).encode())
        if status != 200:
            die(f"{config}: deleting the Jobs of {ns}: HTTP {status}: {data[:300]!r}")

    def admission_pid(self, config):
        if config in WEBHOOK_CONFIGS:
            return self.procs["webhook"].pid
        if config == "kyverno":
            return self.procs["kyverno"].pid
        return None

    def slot(self, config, rnd, conn):
        a = self.a
        self.activate(config)
        # Kyverno compiles a new policy in the background: give it longer.
        self.check(config, conn, 120 if config == "kyverno" and rnd == 1 else 30)
        pid = self.admission_pid(config)
        tag = f"r{rnd}-{config}"
        self.creates(config, conn, a.warmup, f"{tag}-warm", False)
        own = config in ("webhook", "onecall")
        ca = f"{self.work}/certs/ca.crt"
        m0 = scrape_webhook_metrics(self.api, conn)
        o0 = scrape_own_metrics(self.webhook_url, ca) if own else {}
        c0 = cpu_seconds(pid) if pid else None
        lat = self.creates(config, conn, a.sequential, f"{tag}-seq", True)
        # The apiserver's view of each webhook call, over the sequential phase only (the
        # concurrent phase adds queueing in the apiserver's own client).
        m1 = scrape_webhook_metrics(self.api, conn)
        o1 = scrape_own_metrics(self.webhook_url, ca) if own else {}
        for ep, (s1, n1) in o1.items():
            s0, n0 = o0.get(ep, (0.0, 0.0))
            if n1 > n0:
                acc = self.results[config].setdefault("own", {}).setdefault(ep, [0.0, 0.0])
                acc[0] += s1 - s0
                acc[1] += n1 - n0
        tput = self.concurrent(config, a.concurrent, f"{tag}-con")
        c1 = cpu_seconds(pid) if pid else None
        self.check(config, conn, 0)  # still only this one active after the load
        self.cleanup_jobs(config, conn)
        r = self.results[config]
        r["lat"] += lat
        r["tput"].append(tput)
        if pid:
            self.alive("kyverno" if config == "kyverno" else "webhook")
            r["cpu"].append((c1 - c0) / (a.sequential + a.concurrent))
            r["rss"].append(rss_kib(pid))
        for key, (s, c) in m1.items():
            s0, n0 = m0.get(key, (0.0, 0.0))
            if c > n0:
                acc = r["calls"].setdefault(key[1], [0.0, 0.0])
                acc[0] += s - s0
                acc[1] += c - n0
        self.loads.append(os.getloadavg()[0])
        log(f"round {rnd} {config}: p50 {pct(lat, 50) * 1e3:.2f} ms, {tput:.0f} creates/s")

    def run(self):
        a = self.a
        conn = self.api.conn()
        for rnd in range(1, a.rounds + 1):
            # Interleaved: each round starts one configuration later.
            k = (rnd - 1) % len(self.configs)
            for config in self.configs[k:] + self.configs[:k]:
                self.slot(config, rnd, conn)
        self.deactivate_all()
        conn.close()


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def pct(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


NAMES = {
    "none": "none (no admission)",
    "webhook": "helm-hooks webhook (mutate + validate)",
    "onecall": "helm-hooks webhook, one call (`/admit`, `--one-call`)",
    "cel": "CEL pair (`kubectl hooks policy export`)",
    "kyverno": "Kyverno, one ClusterPolicy (validate + mutate)",
    "nonhook": "webhook registered, objects without the hook annotation",
}


def report(b, kyverno_version):
    a = b.a
    R = b.results
    p50 = {c: pct(R[c]["lat"], 50) for c in b.configs}
    tput = {c: statistics.median(R[c]["tput"]) for c in b.configs}
    added = {c: p50[c] - p50["none"] for c in b.configs}
    lines = []
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cpus = os.cpu_count()
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    kube = kubectl("version", "-o", "json", check=False)
    try:
        kube = json.loads(kube)["serverVersion"]["gitVersion"]
    except (ValueError, KeyError):
        kube = "?"
    lines.append(f"Measured {date} on {platform.node() or 'this machine'}: {cpus} CPUs ({model}), "
                 f"kube-apiserver {kube}{', Kyverno ' + kyverno_version if a.kyverno else ''}; "
                 f"{a.rounds} interleaved rounds of {a.warmup} warm-up + {a.sequential} sequential "
                 f"+ {a.concurrent} concurrent ({a.workers} workers) hook Job creates per configuration; "
                 f"load average (1 min) {min(b.loads):.2f}–{max(b.loads):.2f} during the run.")
    lines.append("")
    lines.append("| configuration | p50 | p90 | p99 | added p50 vs none | added p50 ÷ webhook's | "
                 "creates/s | ÷ webhook's | admission process RSS | CPU per object | "
                 "apiserver's mean webhook call, sequential (`apiserver_admission_webhook_admission_duration_seconds`) |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    wa = added["webhook"]
    for c in b.configs:
        r = R[c]
        lat = r["lat"]
        ratio = "—" if c in ("none", "webhook") or wa <= 0 else f"{added[c] / wa:.2f}"
        rss = "—" if not r["rss"] else f"{min(r['rss']) / 1024:.0f}–{max(r['rss']) / 1024:.0f} MiB"
        cpu = "—" if not r["cpu"] else f"{min(r['cpu']) * 1e3:.2f}–{max(r['cpu']) * 1e3:.2f} ms"
        kinds = {"admit": "admit" if c == "onecall" else "mutate", "validating": "validate"}
        calls = ", ".join(f"{kinds.get(t, t)} {s / n * 1e3:.2f} ms" for t, (s, n) in sorted(r["calls"].items())) or "—"
        added_s = "0" if c == "none" else f"{added[c] * 1e3:+.2f} ms"
        lines.append(f"| {NAMES[c]} | {pct(lat, 50) * 1e3:.2f} ms | {pct(lat, 90) * 1e3:.2f} ms | "
                     f"{pct(lat, 99) * 1e3:.2f} ms | {added_s} | {ratio} | {tput[c]:.0f} | "
                     f"{tput[c] / tput['webhook']:.2f} | {rss} | {cpu} | {calls} |")
    own = {**R["webhook"].get("own", {}), **R.get("onecall", {}).get("own", {})}
    if own:
        parts = ", ".join(f"{ep} {s_ / n_ * 1e6:.0f} µs" for ep, (s_, n_) in sorted(own.items()))
        lines.append("")
        lines.append(f"Where a webhook call's time goes (sequential phase): the webhook's own handling "
                     f"(`helm_hooks_webhook_request_duration_seconds`, request body received to response built: parse, decide, encode) "
                     f"averages {parts}; the rest of the apiserver's per-call time above is the "
                     f"apiserver's encoding and decoding of the AdmissionReview, TLS and HTTP/2 on "
                     f"loopback, and applying the patch.")
    lines.append("")
    lines.append("Targets (issue 16), as ratios in this run:")
    lines.append("")

    def verdict(ok):
        return "**met**" if ok else "**not met**"

    ca = added["cel"]
    for c in ("webhook", "onecall"):
        w = added[c]
        lines.append(f"{NAMES[c]}:")
        lines.append("")
        if ca > 0:
            lines.append(f"- added p50 ≤ 1.2 × the CEL pair's: {w / ca:.2f}× — {verdict(w <= 1.2 * ca)}")
        else:
            lines.append(f"- added p50 ≤ 1.2 × the CEL pair's: the CEL pair added {ca * 1e3:+.2f} ms "
                         f"(no measurable cost), this {w * 1e3:+.2f} ms — {verdict(w <= 0)}")
        lines.append(f"- concurrent throughput ≥ the CEL pair's: {tput[c] / tput['cel']:.2f}× — "
                     f"{verdict(tput[c] >= tput['cel'])}")
        if a.kyverno:
            ka = added["kyverno"]
            lines.append(f"- added p50 ≤ 1/5 of Kyverno's: 1/{ka / w:.1f} — {verdict(w * 5 <= ka)}"
                         if w > 0 else f"- added p50 ≤ 1/5 of Kyverno's: added {w * 1e3:+.2f} ms — met")
            wr, kr = max(R[c]["rss"]), max(R["kyverno"]["rss"])
            lines.append(f"- RSS ≤ 1/8 of Kyverno's: 1/{kr / wr:.1f} — {verdict(wr * 8 <= kr)}")
        else:
            lines.append("- Kyverno targets: not measured in this run (--skip-kyverno)")
        lines.append("")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--webhook", required=True)
    p.add_argument("--plugin", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--sequential", type=int, default=300)
    p.add_argument("--concurrent", type=int, default=800)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--kyverno")
    p.add_argument("--kyverno-version", default="")
    p.add_argument("--kyverno-policy")
    p.add_argument("--kyverno-arg", action="append", default=[])
    p.add_argument("--kyverno-env", action="append", default=[])
    p.add_argument("--out", required=True)
    a = p.parse_args()
    b = Bench(a)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        b.setup()
        b.run()
        text = report(b, a.kyverno_version)
    finally:
        b.stop_all()
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
