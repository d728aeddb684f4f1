#!/usr/bin/python3
"""Writes the ResNet checkpoints and expected outputs that examples/resnet ports and checks.

Run with Debian's interpreter (`apt-get install python3-torch python3-torchvision`: torch 1.13,
torchvision 0.14), or any Python with torch and torchvision:

    /usr/bin/python3 examples/resnet/generate.py            # the narrow ResNet (committed)
    /usr/bin/python3 examples/resnet/generate.py --full     # torchvision ResNet-18 (~47 MB, not committed)

Both models are torchvision BasicBlock ResNets with the same module names (conv1, bn1,
layer1.0.conv1, layer2.0.downsample.1, fc, ...) and 20 BatchNorm2d layers; the narrow one has
widths 8/16/32/64 instead of 64/128/256/512 and 10 classes. Each is randomly initialised
(seeded) and trained for 3 SGD steps on shifted random data, so that its running statistics
are far from 0 and 1, at a learning rate (MODELS) that keeps its logits of a few units, then
written as:

* <name>.safetensors           the state_dict (F32, num_batches_tracked I64) with each
                               BatchNorm's eps and momentum in the `normbridge` metadata entry.
* <name>.onnx                  the eval-mode model exported by torch.onnx (BatchNormalization
                               nodes kept), before the train-mode passes below.
* <name>.expected.safetensors  `input` [2,3,S,S] and, in eval mode, `logits` plus every stage's
                               output (`act/stem` after the max-pool, `act/layer1.0` ... `act/layer4.1`);
                               `train_input/<i>` for TRAIN_STEPS forward passes in train mode
                               (no optimiser step), and the running statistics and counters of all
                               20 BatchNorms after them (`after_train/<module>.<buffer>`).

Tolerances the TypeScript port is held to are in the expected file's metadata ("tolerances").
The safetensors package writes the files when it is installed; otherwise the writer in
fixtures/generators/torch_checkpoints.py does (same format).
"""

import argparse
import copy
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN_STEPS = 3
# Logits: |port - torch float32| <= atol, and |port - torch float64| <= float64_atol (the same
# model run by torch in float64, exact to float32 resolution), for every port: the PyTorch and
# Flax layouts, the folded model and ONNX. Running statistics: atol + rtol*|torch|.
TOLERANCES = {
    "logits": {"atol": 1e-5, "float64_atol": 1e-5},
    "running_stats": {"atol": 1e-5, "rtol": 1e-5},
}


def save(path, tensors, metadata):
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    try:
        from safetensors.torch import save_file
    except ImportError:
        sys.path.insert(0, os.path.join(HERE, "..", "..", "fixtures", "generators"))
        from torch_checkpoints import save_safetensors

        save_safetensors(path, tensors, metadata)
        return
    save_file(tensors, path, metadata=metadata)
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors)")


class NarrowResNet(nn.Module):
    """torchvision's ResNet-18 layout (BasicBlock, [2, 2, 2, 2]) with narrow widths."""

    def __init__(self, widths=(8, 16, 32, 64), num_classes=10):
        super().__init__()
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(widths[0], 1)
        self.layer2 = self._make_layer(widths[1], 2)
        self.layer3 = self._make_layer(widths[2], 2)
        self.layer4 = self._make_layer(widths[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3], num_classes)

    def _make_layer(self, planes, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample), BasicBlock(planes, planes)]
        self.inplanes = planes
        return nn.Sequential(*layers)

    forward = torchvision.models.ResNet._forward_impl


def stages(model, x):
    """Eval outputs of the stem and of every block, as the TypeScript port reports them."""
    out = {}
    y = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    out["act/stem"] = y
    for layer in range(1, 5):
        for block, m in enumerate(getattr(model, f"layer{layer}")):
            y = m(y)
            out[f"act/layer{layer}.{block}"] = y
    out["logits"] = model.fc(torch.flatten(model.avgpool(y), 1))
    return out


def bn_metadata(model):
    layers = {
        name: {"epsilon": m.eps, "momentum": m.momentum}
        for name, m in model.named_modules()
        if isinstance(m, nn.BatchNorm2d)
    }
    return json.dumps({"version": 1, "framework": "torch", "momentumConvention": "batch-weight", "batchNorm": layers}, sort_keys=True)


def shifted(g, shape):
    # Shifted, scaled inputs so that running means and variances move well away from 0 and 1.
    return torch.randn(*shape, generator=g) * 1.7 + 0.4


def export_onnx(model, x, path):
    """The eval-mode model as ONNX (opset 15) with its BatchNormalization nodes kept (no constant
    folding, training mode preserved), for @normbridge/onnx's foldBatchNormsInModel to fold."""
    torch.onnx.export(
        model, x, path, opset_version=15, do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE,
        input_names=["input"], output_names=["logits"],
    )
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# name, output folder, constructor, input size, classes, and the learning rate of the 3 SGD steps.
# The rate keeps the logits of order a few units, as a trained classifier's are (float32's own
# error grows with them: float32_spread.py --lr measures it); 0.05 would drive ResNet-18's to ~36.
MODELS = {
    "narrow": ("resnet-narrow", "fixtures", NarrowResNet, 32, 10, 0.05),
    "full": ("resnet18", "data", lambda: torchvision.models.resnet18(weights=None), 64, 1000, 0.01),
}


def train(which, lr=None):
    """The seeded model after 3 SGD steps on shifted data (at `lr`, the model's own by default),
    and the generator that then draws the recorded inputs."""
    _, _, make, size, classes, default_lr = MODELS[which]
    torch.manual_seed(0)
    model = make()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    opt = torch.optim.SGD(model.parameters(), lr=default_lr if lr is None else lr, momentum=0.9)
    model.train()
    for _ in range(3):
        x = shifted(g, (8, 3, size, size))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), torch.randint(0, classes, (8,), generator=g)).backward()
        opt.step()
    return model, g


def eval_input(g, which):
    return shifted(g, (2, 3, MODELS[which][3], MODELS[which][3]))


def generate(which):
    name, folder, _, size, _, _ = MODELS[which]
    out = os.path.join(HERE, folder)
    os.makedirs(out, exist_ok=True)
    model, g = train(which)
    meta = {
        "format": "pt",
        "normbridge": bn_metadata(model),
        "generator": "examples/resnet/generate.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
    save(os.path.join(out, f"{name}.safetensors"), {k: v.clone() for k, v in model.state_dict().items()}, meta)

    expected = {}
    model.eval()
    x = eval_input(g, which)
    export_onnx(model, x, os.path.join(out, f"{name}.onnx"))
    expected["input"] = x
    with torch.no_grad():
        expected.update(stages(model, x))
        # The same weights and input in float64: torch's exact answer, which float32 logits of
        # any implementation (torch's own included) can only approach.
        expected["logits_float64"] = copy.deepcopy(model).double().eval()(x.double())
        model.train()
        for i in range(TRAIN_STEPS):
            xi = shifted(g, (4, 3, size, size))
            expected[f"train_input/{i}"] = xi
            model(xi)
    for module, m in model.named_modules():
        if isinstance(m, nn.BatchNorm2d):
            for buf in ("running_mean", "running_var", "num_batches_tracked"):
                expected[f"after_train/{module}.{buf}"] = getattr(m, buf).clone()
    save(
        os.path.join(out, f"{name}.expected.safetensors"),
        expected,
        {
            "description": f"eval outputs and {TRAIN_STEPS} train-mode forward passes of {name}.safetensors (NCHW)",
            "tolerances": json.dumps(TOLERANCES, sort_keys=True),
            "train_steps": str(TRAIN_STEPS),
            "torch": torch.__version__,
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="torchvision resnet18 into examples/resnet/data/ (not committed)")
    args = parser.parse_args()
    generate("full" if args.full else "narrow")
