"""PyTorch side of `pnpm bench`: BatchNorm median milliseconds, printed as one JSON object.

Run by bench/src/run.mjs with the Python it finds (NORMBRIDGE_BENCH_PYTHON, else a .venv).
argv: threads, then a JSON list of cases {layout, shape, op}; every case runs the same
module type a port would use (BatchNorm2d for 4-D, BatchNorm1d for 2-D), NHWC as
channels_last memory format.
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
    return timed(fn)


def main():
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
