"""PyTorch side of `pnpm bench`: BatchNorm median milliseconds, printed as one JSON object.

Run by bench/src/run.mjs with the Python it finds (NORMBRIDGE_BENCH_PYTHON, else a .venv).
argv: threads, then a JSON list of cases {layout, shape, op}; every case runs the same
module type a port would use (BatchNorm2d for 4-D, BatchNorm1d for 2-D), NHWC as
channels_last memory format.

argv `serve` threads: the head-to-head mode. Prints {version, threads} as one JSON line, then
answers each line {layout, shape, op, runs, warm, warm_ms} read from stdin with {"ms": [runs
samples]}, timed after untimed calls (at least `warm` of them, for at least `warm_ms`), until
stdin closes. A case is built and warmed up once, at its first request, so that the caller can
alternate short phases of PyTorch and of an engine under the same load.
"""
import json
import statistics
import sys
import time

import torch

MIN_RUNS, MAX_RUNS, BUDGET_S = 3, 15, 1.5


def timed(fn):
    fn()  # warm-up
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-6)
    runs = max(MIN_RUNS, min(MAX_RUNS, int(BUDGET_S / once)))
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples), runs


def case(layout, shape, op):
    return timed(make(layout, shape, op))


def make(layout, shape, op):
    """The call a port makes for one case, as a function of no arguments."""
    torch.manual_seed(0)
    if layout == "NC":
        x = torch.randn(*shape)
        bn = torch.nn.BatchNorm1d(shape[1])
    else:
        n, c, h, w = shape if layout == "NCHW" else (shape[0], shape[3], shape[1], shape[2])
        x = torch.randn(n, c, h, w)
        if layout == "NHWC":
            x = x.contiguous(memory_format=torch.channels_last)
        bn = torch.nn.BatchNorm2d(c)
    dy = torch.randn_like(x)
    if op == "train":
        bn.train()

        def fn():
            with torch.no_grad():
                bn(x)
    elif op == "eval":
        bn.eval()

        def fn():
            with torch.no_grad():
                bn(x)
    else:
        bn.train()
        xg = x.clone().requires_grad_(True)

        def fn():
            xg.grad = None
            bn.zero_grad(set_to_none=True)
            bn(xg).backward(dy)
    return fn


def serve(threads):
    torch.set_num_threads(threads)
    print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    built = {}
    for line in sys.stdin:
        c = json.loads(line)
        key = (c["layout"], tuple(c["shape"]), c["op"])
        if key not in built:
            built[key] = make(*key)
            built[key]()  # warm-up
        fn = built[key]
        warm_until = time.perf_counter() + c.get("warm_ms", 0) / 1e3
        for i in range(10**6):
            if i >= c.get("warm", 0) and time.perf_counter() >= warm_until:
                break
            fn()
        samples = []
        for _ in range(c["runs"]):
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1e3)
        print(json.dumps({"ms": samples}), flush=True)


def main():
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
        return
    threads = int(sys.argv[1])
    cases = json.loads(sys.argv[2])
    torch.set_num_threads(threads)
    results = []
    for c in cases:
        ms, runs = case(c["layout"], c["shape"], c["op"])
        results.append({**c, "ms": ms, "runs": runs})
    print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
