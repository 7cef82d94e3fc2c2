"""FAISS side of the retrieval benchmark: IndexFlatL2 and IndexIVFFlat over the same data.

Reads raw little-endian files written by bench/index.ts into one folder:
  meta.json (n, dim, classes, queries, k, probes), base.f32 (n×dim), labels.i64 (n),
  anchors.f32 (classes×dim), queries.f32 (q×dim), exact.i64 (q×k row numbers of the exact top-k).
Prints one JSON object on stdout. Single-threaded, like the JavaScript indexes it is compared with;
the batch is also timed on meta["threads"] OpenMP threads (batchQpsT, cpuBatchQpsT).
"""

import json
import sys
import time

import faiss
import numpy as np


def latency(seconds):
    ordered = np.sort(np.asarray(seconds)) * 1e6
    at = lambda p: float(ordered[min(len(ordered) - 1, max(0, int(np.ceil(p * len(ordered))) - 1))])
    return {"medianUs": at(0.5), "p99Us": at(0.99)}


def recall(found, exact):
    hits = 0
    for f, e in zip(found, exact):
        hits += len(set(f.tolist()) & set(e.tolist())) / len(e)
    return hits / len(exact)


def measure(index, queries, k, exact, threads):
    """Wall and process CPU time (CPU time excludes the time other processes held the core)."""
    q = queries.shape[0]
    index.search(queries[:8], k)  # warm-up
    wall, cpu = [], []
    found = np.empty((q, k), dtype=np.int64)
    for i in range(q):
        c0, t0 = time.process_time(), time.perf_counter()
        _, ids = index.search(queries[i : i + 1], k)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        found[i] = ids[0]
    c0, t0 = time.process_time(), time.perf_counter()
    index.search(queries, k)
    batch_wall, batch_cpu = time.perf_counter() - t0, time.process_time() - c0
    out = latency(wall)
    out["cpuMedianUs"] = latency(cpu)["medianUs"]
    out["batchQps"] = q / batch_wall
    out["cpuBatchQps"] = q / batch_cpu
    out["recallAt10"] = recall(found, exact)
    if threads > 1:
        faiss.omp_set_num_threads(threads)
        index.search(queries[:8], k)
        c0, t0 = time.process_time(), time.perf_counter()
        index.search(queries, k)
        out["batchQpsT"] = q / (time.perf_counter() - t0)
        out["cpuBatchQpsT"] = q / (time.process_time() - c0)
        faiss.omp_set_num_threads(1)
    return out


def main(folder):
    faiss.omp_set_num_threads(1)
    meta = json.load(open(f"{folder}/meta.json"))
    n, dim, classes, k = meta["n"], meta["dim"], meta["classes"], meta["k"]
    base = np.fromfile(f"{folder}/base.f32", dtype="<f4").reshape(n, dim)
    labels = np.fromfile(f"{folder}/labels.i64", dtype="<i8")
    anchors = np.fromfile(f"{folder}/anchors.f32", dtype="<f4").reshape(classes, dim)
    queries = np.fromfile(f"{folder}/queries.f32", dtype="<f4").reshape(-1, dim)
    exact = np.fromfile(f"{folder}/exact.i64", dtype="<i8").reshape(queries.shape[0], k)
    results = {"faissVersion": faiss.__version__, "rows": []}

    t0 = time.perf_counter()
    flat = faiss.IndexFlatL2(dim)
    flat.add(base)
    row = {"name": "FAISS IndexFlatL2", "buildS": time.perf_counter() - t0, "scanned": 1.0}
    row.update(measure(flat, queries, k, exact, meta["threads"]))
    results["rows"].append(row)

    # The coarse quantizer holds exactly the anchors; items go to their label's list, as in
    # AnchorIndex (add_core with precomputed list numbers), so both scan the same buckets.
    t0 = time.perf_counter()
    quantizer = faiss.IndexFlatL2(dim)
    quantizer.add(anchors)
    ivf = faiss.IndexIVFFlat(quantizer, dim, classes, faiss.METRIC_L2)
    assert ivf.is_trained
    ivf.add_core(n, faiss.swig_ptr(base), None, faiss.swig_ptr(np.ascontiguousarray(labels)))
    build = time.perf_counter() - t0
    sizes = np.bincount(labels, minlength=classes)
    for probe in meta["probes"]:
        ivf.nprobe = probe
        _, nearest = quantizer.search(queries, probe)
        row = {
            "name": f"FAISS IndexIVFFlat nprobe={probe}",
            "buildS": build,
            "scanned": float(sizes[nearest].sum(axis=1).mean() / n),
        }
        row.update(measure(ivf, queries, k, exact, meta["threads"]))
        results["rows"].append(row)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
