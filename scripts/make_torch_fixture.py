#!/usr/bin/env python3
"""PyTorch side of the checkpoint interop tests for the MODEL.md ST-CNN (scripts/stcnn.py).

  make_torch_fixture.py make [OUTDIR]     (default Tests/TorchFixtures; the output is committed)
      Builds the ST-CNN (PyTorch default init, seed 0; the localization's last layer is then
      nudged off the identity so the sampler really transforms), and writes
        OUTDIR/torch_stcnn_state.safetensors   the plain state dict (safetensors.torch.save_file)
        OUTDIR/torch_stcnn_io.safetensors      `input` (2,1,42,42), its `logits` (2,10), `theta`,
                                               the mean cross-entropy `loss` for `targets` (3, 7)
                                               and `grad.<name>` for a few parameters

  make_torch_fixture.py check CHECKPOINT INPUT OUTPUT
      Loads a swift-stn checkpoint into the same nn.Module with load_state_dict(strict=True)
      (optimizer.* tensors dropped), runs INPUT's `input` through it and writes `logits`.
"""
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stcnn import STCNN  # noqa: E402

GRADIENT_NAMES = ["loc.0.weight", "loc.7.bias", "loc.9.weight", "loc.9.bias", "cls.0.weight", "cls.3.bias", "cls.12.weight"]


def make(outdir):
    torch.manual_seed(0)
    model = STCNN().eval()
    with torch.no_grad():
        # Off the identity: a rotation/zoom that depends on the input, so both branches matter.
        model.loc[9].weight.normal_(0, 0.02)
        model.loc[9].bias.copy_(torch.tensor([0.9, 0.2, 0.05, -0.15, 1.1, -0.1]))
    x = torch.randn(2, 1, 42, 42)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{outdir}/torch_stcnn_state.safetensors")
    # One backward pass: mean cross-entropy for targets (3, 7), and a few parameter gradients
    # spread over both branches (the localization ones depend on the sampler's theta gradient).
    targets = torch.tensor([3, 7])
    logits, theta = model(x)
    loss = F.cross_entropy(logits, targets)
    loss.backward()
    io = {"input": x, "logits": logits.detach(), "theta": theta.detach().contiguous(), "loss": loss.detach().reshape(1),
          "targets": targets.to(torch.float32)}
    params = dict(model.named_parameters())
    for name in GRADIENT_NAMES:
        io["grad." + name] = params[name].grad.contiguous()
    save_file(io, f"{outdir}/torch_stcnn_io.safetensors")


def check(checkpoint, input_path, output_path):
    state = {k: v for k, v in load_file(checkpoint).items() if not k.startswith("optimizer.")}
    classes = state["cls.12.weight"].shape[0]
    model = STCNN(classes).eval()
    model.load_state_dict(state, strict=True)
    x = load_file(input_path)["input"]
    with torch.no_grad():
        logits, _ = model(x)
    save_file({"logits": logits.contiguous()}, output_path)


if __name__ == "__main__":
    if len(sys.argv) in (2, 3) and sys.argv[1] == "make":
        make(sys.argv[2] if len(sys.argv) == 3 else "Tests/TorchFixtures")
    elif len(sys.argv) == 5 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
