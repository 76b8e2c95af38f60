"""Driver of bench/janitor-scale/run: makes Helm-shaped releases and hook objects, runs the
janitor's passes and reports peak RSS and time as ratios to the baseline of the same run."""

import argparse
import base64
import datetime
import gzip
import json
import os
import subprocess
import sys
import time

NAMESPACE = "bench-janitor"


def now_rfc3339(offset=0.0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def kubectl_apply(objects):
    """Server-side applies objects in chunks (one kubectl per 500)."""
    for i in range(0, len(objects), 500):
        doc = {"apiVersion": "v1", "kind": "List", "items": objects[i : i + 500]}
        subprocess.run(
            ["kubectl", "apply", "--server-side", "-f", "-"],
            input=json.dumps(doc).encode(),
            check=True,
            stdout=subprocess.DEVNULL,
        )


def hook_objects(release, hooks):
    """The live hook objects of one release: a Job, a ServiceAccount, then ConfigMaps."""
    out = []
    for i in range(hooks):
        name = f"{release}-h{i}"
        meta = {
            "name": name,
            "namespace": NAMESPACE,
            "annotations": {"helm.sh/hook": "post-install"},
        }
        if i == 0:
            out.append({
                "apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"backoffLimit": 0, "template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "bench.invalid/tool:1"}]}}},
            })
        elif i == 1:
            out.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
        else:
            out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                        "data": {"k": "v"}})
    return out


def record(release, objects, started, completed):
    """The Secret Helm 3 and 4 store for revision 1 of `release`, its hooks run and succeeded."""
    hooks = []
    for o in objects:
        manifest = (f"apiVersion: {o['apiVersion']}\nkind: {o['kind']}\nmetadata:\n"
                    f"  name: {o['metadata']['name']}\n  annotations:\n"
                    f"    helm.sh/hook: post-install\n")
        hooks.append({
            "name": o["metadata"]["name"], "kind": o["kind"],
            "path": f"bench/templates/{o['metadata']['name']}.yaml", "manifest": manifest,
            "events": ["post-install"],
            "last_run": {"started_at": started, "completed_at": completed, "phase": "Succeeded"},
        })
    rel = {
        "name": release, "namespace": NAMESPACE, "version": 1,
        "info": {"first_deployed": started, "last_deployed": started, "status": "deployed",
                 "description": "Install complete"},
        "chart": {"metadata": {"name": "bench", "version": "0.1.0", "apiVersion": "v2"}},
        "manifest": "", "hooks": hooks,
    }
    payload = base64.b64encode(gzip.compress(json.dumps(rel).encode())).decode()
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": f"sh.helm.release.v1.{release}.v1", "namespace": NAMESPACE,
                     "labels": {"owner": "helm", "name": release, "status": "deployed",
                                "version": "1"}},
        "data": {"release": base64.b64encode(payload.encode()).decode()},
    }


def make_releases(first, last, hooks):
    """Releases first..last-1: live objects first, then the records, so every object's
    creation falls inside its recorded run."""
    started = now_rfc3339(-5)
    names = [f"r{i:05d}" for i in range(first, last)]
    per_release = {name: hook_objects(name, hooks) for name in names}
    kubectl_apply([o for objs in per_release.values() for o in objs])
    completed = now_rfc3339(5)
    kubectl_apply([record(n, per_release[n], started, completed) for n in names])


def janitor_pass(janitor):
    """One `--once` pass; returns (peak RSS in KiB, wall seconds)."""
    argv = [janitor, "--once", "--listen", "", "--namespaces", NAMESPACE,
            "--lease-namespace", NAMESPACE, "--log-format", "json"]
    start = time.monotonic()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env={**os.environ, "RUST_LOG": "warn"})
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(output.decode(errors="replace"))
        raise SystemExit(f"janitor-scale: the janitor's pass failed ({status})")
    return usage.ru_maxrss, elapsed


def stamped():
    """How many objects in the namespace carry the janitor's stamp label."""
    out = subprocess.run(
        ["kubectl", "get", "jobs,serviceaccounts,configmaps", "-n", NAMESPACE, "-o", "name",
         "-l", "hooks.helm-hooks.io/stamped=true"],
        check=True, capture_output=True, text=True).stdout
    return len(out.split())


def measure(janitor, label, expected):
    first = janitor_pass(janitor)
    steady = janitor_pass(janitor)
    if stamped() != expected:
        raise SystemExit(f"janitor-scale: {stamped()} objects stamped, expected {expected}: "
                         "the passes did not confirm every hook run")
    print(f"[janitor-scale] {label}: stamping pass {first[0] / 1024:.1f} MiB in {first[1]:.1f} s; "
          f"steady pass {steady[0] / 1024:.1f} MiB in {steady[1]:.1f} s", file=sys.stderr)
    return first, steady


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--releases", type=int, required=True)
    p.add_argument("--baseline", type=int, required=True)
    p.add_argument("--hooks", type=int, required=True)
    p.add_argument("--janitor", required=True)
    a = p.parse_args()
    if not 0 < a.baseline < a.releases:
        raise SystemExit("janitor-scale: need 0 < --baseline < --releases")
    subprocess.run(["kubectl", "create", "namespace", NAMESPACE], check=True,
                   stdout=subprocess.DEVNULL)
    make_releases(0, a.baseline, a.hooks)
    base = measure(a.janitor, f"{a.baseline} releases x {a.hooks} hooks", a.baseline * a.hooks)
    make_releases(a.baseline, a.releases, a.hooks)
    large = measure(a.janitor, f"{a.releases} releases x {a.hooks} hooks", a.releases * a.hooks)
    load = os.getloadavg()
    print(f"\njanitor-scale: {a.releases} vs {a.baseline} releases x {a.hooks} hooks "
          f"(ratio {a.releases / a.baseline:.1f}x), load average {load[0]:.2f}")
    print("| pass | peak RSS, baseline | peak RSS, large | RSS ratio | time ratio |")
    print("|---|---|---|---|---|")
    for name, b, l in (("stamping", base[0], large[0]), ("steady", base[1], large[1])):
        print(f"| {name} | {b[0] / 1024:.1f} MiB | {l[0] / 1024:.1f} MiB | "
              f"{l[0] / b[0]:.2f}x | {l[1] / b[1]:.2f}x |")


if __name__ == "__main__":
    main()
