"""A bounded, self-stopping mixed load on a running RAGBase, for local/bench/stack.

    python3 local/lib/stack_load.py URL SECONDS PIDS_FILE

Uploads: one Markdown document every UPLOAD_EVERY seconds, each ten Cranfield abstracts under
their titles (real text; every document unique). Queries: QUERY_CLIENTS closed-loop clients
asking the Cranfield questions, semantic and hybrid in turn, with a document listing every tenth
request. Every SAMPLE_EVERY seconds it records the RSS of the processes in PIDS_FILE (name pid
lines) and the queue. After SECONDS it stops sending, waits (at most DRAIN_SECONDS) for the queue
to empty, and prints Markdown tables.
"""

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

URL, SECONDS, PIDS_FILE = sys.argv[1].rstrip("/"), float(sys.argv[2]), sys.argv[3]
KEY = os.environ["API_KEY"]
UPLOAD_EVERY = float(os.environ.get("UPLOAD_EVERY", "3"))
QUERY_CLIENTS = int(os.environ.get("QUERY_CLIENTS", "4"))
SAMPLE_EVERY = float(os.environ.get("SAMPLE_EVERY", "30"))
DRAIN_SECONDS = float(os.environ.get("DRAIN_SECONDS", "600"))
CRANFIELD = os.path.join(os.path.dirname(__file__), "../../../shared/data/cranfield")

abstracts = [json.loads(line) for line in open(f"{CRANFIELD}/corpus.jsonl")]
questions = [json.loads(line)["text"] for line in open(f"{CRANFIELD}/queries-dev.jsonl")]
latencies = {}  # operation → [seconds]; status codes other than the expected are errors
errors = {}
lock = threading.Lock()
stop = threading.Event()


def call(operation, method, path, body=None, content_type=None, expected=200):
    headers = {"X-API-Key": KEY}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(URL + path, data=body, method=method, headers=headers)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            status, data = answer.status, answer.read()
    except urllib.error.HTTPError as answer:
        status, data = answer.code, answer.read()
    elapsed = time.perf_counter() - started
    with lock:
        if status == expected:
            latencies.setdefault(operation, []).append(elapsed)
        else:
            errors.setdefault(operation, {}).setdefault(status, 0)
            errors[operation][status] += 1
    return data


def uploader():
    batch = 0
    next_at = time.monotonic()
    while not stop.is_set():
        start = (batch * 10) % len(abstracts)
        sections = [f"## {a['title']}\n\n{a['text']}\n" for a in abstracts[start:start + 10]]
        text = f"# Cranfield batch {batch} ({uuid.uuid4().hex[:8]})\n\n" + "\n".join(sections)
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"cranfield-{batch}.md\"\r\nContent-Type: text/markdown\r\n\r\n"
                ).encode() + text.encode() + f"\r\n--{boundary}--\r\n".encode()
        call("POST /api/documents", "POST", "/api/documents", body,
             f"multipart/form-data; boundary={boundary}", expected=201)
        batch += 1
        next_at += UPLOAD_EVERY
        stop.wait(max(0.0, next_at - time.monotonic()))


def querier(client):
    n = client
    while not stop.is_set():
        if n % 10 == 9:
            call("GET /api/documents", "GET", "/api/documents?limit=20")
        else:
            mode = "hybrid" if n % 2 else "semantic"
            query = {"query": questions[n % len(questions)][:1000], "mode": mode, "topK": 10}
            call(f"POST /api/query ({mode})", "POST", "/api/query", json.dumps(query).encode(),
                 "application/json")
        n += QUERY_CLIENTS


def rss_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def queue_and_done():
    metrics = urllib.request.urlopen(URL + "/metrics", timeout=30).read().decode()
    waiting = next((float(l.split()[-1]) for l in metrics.splitlines()
                    if l.startswith('processing_queue_size{status="waiting"}')), float("nan"))
    page = json.loads(call("status poll", "GET", "/api/documents?limit=1"))
    counts = page["counts"]
    return int(waiting), counts.get("completed", 0), counts.get("failed", 0), page["total"]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main():
    processes = [line.split() for line in open(PIDS_FILE) if line.strip()]
    samples = []
    threads = [threading.Thread(target=uploader)] + [
        threading.Thread(target=querier, args=(c,)) for c in range(QUERY_CLIENTS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()

    def sample():
        samples.append((time.monotonic() - began, [rss_mb(pid) for _, pid in processes],
                        *queue_and_done()))

    sample()
    while time.monotonic() - began < SECONDS:
        time.sleep(min(SAMPLE_EVERY, max(0.0, SECONDS - (time.monotonic() - began))))
        sample()
    stop.set()
    for thread in threads:
        thread.join()
    loaded = time.monotonic() - began
    def unfinished():
        _, _, _, completed, failed, total = samples[-1]
        return completed + failed < total

    while unfinished() and time.monotonic() - began < SECONDS + DRAIN_SECONDS:
        time.sleep(SAMPLE_EVERY / 3)
        sample()
    drained = time.monotonic() - began

    outcome = ("still unfinished" if unfinished() else "all processed")
    print(f"Load for {loaded:.0f} s: {QUERY_CLIENTS} query clients (closed loop), one upload every "
          f"{UPLOAD_EVERY:g} s; uploads {outcome} {drained - loaded:.0f} s after the load "
          "stopped.\n")
    print("| operation | requests | per second | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for operation in sorted(set(latencies) | set(errors)):
        values = latencies.get(operation, [])
        if operation == "status poll":
            continue
        p50 = f"{percentile(values, 50) * 1000:.0f}" if values else "–"
        p99 = f"{percentile(values, 99) * 1000:.0f}" if values else "–"
        print(f"| {operation} | {len(values)} | {len(values) / loaded:.2f} | {p50} | {p99} | "
              f"{errors.get(operation) or 'none'} |")
    names = [name for name, _ in processes]
    print("\n| t (s) | " + " | ".join(f"{n} RSS MB" for n in names)
          + " | queue waiting | documents COMPLETED / FAILED / uploaded |")
    print("|---" * (len(names) + 3) + "|")
    for t, rss, waiting, completed, failed, total in samples:
        print(f"| {t:.0f} | " + " | ".join(f"{r:.0f}" for r in rss)
              + f" | {waiting} | {completed} / {failed} / {total} |")


main()
