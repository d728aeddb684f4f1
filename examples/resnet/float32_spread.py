#!/usr/bin/python3
"""How far torch's own float32 logits are from exact, on the checkpoints generate.py wrote.

The TypeScript port is held to 1e-5 absolute against torch's float32 logits and against the same
model in float64. This measures how much of that float32 itself uses: torch's float32 eval logits
against the same model in float64, and torch's default float32 convolutions (oneDNN) against its
native ones (torch.backends.mkldnn disabled), on the recorded eval input. Run with Debian's torch:

    /usr/bin/python3 examples/resnet/float32_spread.py           # narrow (fixtures/)
    /usr/bin/python3 examples/resnet/float32_spread.py --full    # ResNet-18 (data/)

`--port-logits FILE ...` adds a port's logits (raw float32) against both. `--lr LR ...` instead
retrains the model in memory as generate.py does at other learning rates and prints, for each,
max |logit| and torch float32 against float64 (how float32's error grows with the logits).
Prints one line per comparison: max |a - b| over the logits and max |logit|. Reads safetensors
with a few lines of its own (the package is optional).
"""

import argparse
import copy
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import MODELS, eval_input, train  # noqa: E402

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for key, info in header.items():
        a, b = info["data_offsets"]
        out[key] = torch.from_numpy(np.frombuffer(data[a:b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"]).copy())
    return out


def logits(model, x, dtype, mkldnn=True):
    m = copy.deepcopy(model).to(dtype).eval()
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=mkldnn):
        return m(x.to(dtype)).double()


def line(label, a, b):
    print(f"{label:58s} max abs {(a - b).abs().max().item():.2e}   max |logit| {b.abs().max().item():.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="torchvision ResNet-18 in data/ instead of the narrow one")
    parser.add_argument("--port-logits", nargs="*", default=[], metavar="FILE", help="a port's eval logits (raw little-endian float32, [2, classes]) to compare too")
    parser.add_argument("--lr", nargs="*", type=float, default=[], metavar="LR", help="retrain at these learning rates instead of reading the files")
    args = parser.parse_args()
    which = "full" if args.full else "narrow"
    name, folder, make, *_ = MODELS[which]
    torch.set_num_threads(1)
    for lr in args.lr:
        model, g = train(which, lr)
        x = eval_input(g, which)
        line(f"{name} trained at lr {lr}: torch float32 vs float64", logits(model, x, torch.float32), logits(model, x, torch.float64))
    if args.lr:
        sys.exit(0)
    model = make()
    model.load_state_dict(read_safetensors(os.path.join(HERE, folder, f"{name}.safetensors")))
    expected = read_safetensors(os.path.join(HERE, folder, f"{name}.expected.safetensors"))
    x, recorded = expected["input"], expected["logits"].double()
    f64 = logits(model, x, torch.float64)
    f32 = logits(model, x, torch.float32)
    f32_native = logits(model, x, torch.float32, mkldnn=False)
    print(f"{name}: torch {torch.__version__}, eval input {list(x.shape)}")
    line("recorded logits (generate.py) vs float32 recomputed here", f32, recorded)
    line("torch float32 (oneDNN convs) vs torch float64", f32, f64)
    line("torch float32 (native convs) vs torch float64", f32_native, f64)
    line("torch float32 native vs oneDNN convs", f32_native, f32)
    for path in args.port_logits:
        port = torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(f64.shape).astype(np.float64))
        line(f"{os.path.basename(path)} vs torch float64", port, f64)
        line(f"{os.path.basename(path)} vs torch float32 (recorded)", port, recorded)
