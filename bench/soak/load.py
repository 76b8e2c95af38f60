#!/usr/bin/env python3
"""Open-loop load of hook Job creates through the kube-apiserver (bench/soak/run's generator).

Creates suspended batch/v1 Jobs carrying helm.sh/hook annotations at a fixed rate for a fixed
duration, each with one POST to the apiserver over keep-alive HTTPS connections (client
certificate auth, standard library only). Latency is measured from each create's scheduled
start (wrk2-style: a stall delays the queue and shows in the latency, it is not hidden).

A create counts as a failed admission when the apiserver refused or errored (status other
than 201, or no answer) or when the created object lacks the webhook's injected defaults
(spec.activeDeadlineSeconds, the pod securityContext): with the mutating webhook's
failurePolicy Ignore, a webhook the apiserver could not reach lets the object through
unmodified, and only this check sees it.

Writes OUT_DIR/creates.csv (one row per create) and prints one summary line per 10 s.
Bounded: it sends exactly rate*duration creates, each with a timeout, and stops at the
latest duration + 60 s.
"""
import argparse
import http.client
import json
import queue
import ssl
import sys
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("--api", required=True, help="host:port of the apiserver (loopback)")
p.add_argument("--ca", required=True)
p.add_argument("--cert", required=True)
p.add_argument("--key", required=True)
p.add_argument("--namespace", required=True)
p.add_argument("--rate", type=float, required=True)
p.add_argument("--duration", type=float, required=True)
p.add_argument("--workers", type=int, default=16)
p.add_argument("--prefix", default="soak")
p.add_argument("--out", required=True, help="CSV file of every create")
p.add_argument("--start-file", help="touched when the first create is scheduled")
a = p.parse_args()

host, port = a.api.rsplit(":", 1)
if host not in ("127.0.0.1", "localhost", "::1"):
    sys.exit("load.py: loopback apiserver only")
ctx = ssl.create_default_context(cafile=a.ca)
ctx.load_cert_chain(a.cert, a.key)
path = f"/apis/batch/v1/namespaces/{a.namespace}/jobs"
total = int(a.rate * a.duration)
hard_stop = time.monotonic() + a.duration + 60


def job(name):
    return json.dumps({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/part-of": "helm-hooks-soak"},
            "annotations": {
                "helm.sh/hook": "pre-upgrade",
                "helm.sh/hook-weight": "0",
                "helm.sh/hook-delete-policy": "before-hook-creation",
            },
        },
        "spec": {
            # Suspended: the admission path is what is measured; no Pods to schedule.
            "suspend": True,
            "backoffLimit": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "migrate",
                    "image": "registry.example/migrate:1.0",
                    "args": ["migrate", "--to", "latest"],
                    "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
                }],
            }},
        },
    }).encode()


def injected(obj):
    """Which of the webhook's defaults are missing from the created object (empty = all)."""
    spec = obj.get("spec", {})
    missing = []
    if "activeDeadlineSeconds" not in spec:
        missing.append("activeDeadlineSeconds")
    if not spec.get("template", {}).get("spec", {}).get("securityContext"):
        missing.append("securityContext")
    return missing


work = queue.Queue()
rows = []  # (seq, scheduled_s, latency_ms, status, ok, reason)
lock = threading.Lock()


def worker():
    conn = None
    while True:
        item = work.get()
        if item is None:
            return
        seq, sched = item
        status, reason = 0, ""
        try:
            if time.monotonic() > hard_stop:
                raise TimeoutError("hard stop reached before sending")
            if conn is None:
                conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=30)
            conn.request("POST", path, body=job(f"{a.prefix}-{seq:06d}"),
                         headers={"Content-Type": "application/json",
                                  "Accept": "application/json"})
            resp = conn.getresponse()
            body = resp.read()
            status = resp.status
            if status == 201:
                missing = injected(json.loads(body))
                if missing:
                    reason = "created without the webhook's defaults: missing " + ",".join(missing)
            else:
                try:
                    reason = json.loads(body).get("message", "")[:300]
                except ValueError:
                    reason = body[:300].decode("utf-8", "replace")
        except Exception as e:  # an error is a failed create, recorded, never raised
            reason = f"{type(e).__name__}: {e}"[:300]
            if conn is not None:
                conn.close()
            conn = None
        latency_ms = (time.monotonic() - sched) * 1000
        ok = status == 201 and not reason
        with lock:
            rows.append((seq, sched - t0, latency_ms, status, ok, reason.replace("\n", " ")))


threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.workers)]
for t in threads:
    t.start()
t0 = time.monotonic()
if a.start_file:
    open(a.start_file, "w").close()
next_report = 10.0
for seq in range(total):
    sched = t0 + seq / a.rate
    delay = sched - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    work.put((seq, sched))
    if sched - t0 >= next_report:
        with lock:
            done = len(rows)
            bad = sum(1 for r in rows if not r[4])
        print(f"[load] t={sched - t0:5.0f}s sent={seq + 1} done={done} failed={bad}", flush=True)
        next_report += 10.0
for _ in threads:
    work.put(None)
for t in threads:
    t.join(timeout=max(0.0, hard_stop - time.monotonic()) + 1)

with lock:
    rows.sort()
    with open(a.out, "w") as f:
        f.write("seq,scheduled_s,latency_ms,status,ok,reason\n")
        for r in rows:
            reason = r[5].replace('"', "'")
            f.write(f'{r[0]},{r[1]:.3f},{r[2]:.1f},{r[3]},{int(r[4])},"{reason}"\n')
    lost = total - len(rows)
print(f"[load] done: {len(rows)} of {total} creates answered, {lost} unanswered", flush=True)
sys.exit(0 if lost == 0 else 1)
