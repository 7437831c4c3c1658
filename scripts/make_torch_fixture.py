#!/usr/bin/env python3
"""Writes the PyTorch interop fixture for Tests/TorchFixtures (run once; the output is committed).

The benchmark ST-CNN of shared/bench/MODEL.md, built exactly as a PyTorch user would, with its
state_dict saved by safetensors.torch.save_file, plus two 1x42x42 inputs and PyTorch's logits and
theta for them. The Swift test loads the state dict into our model and compares the logits.
"""
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file


class STCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.loc = nn.Sequential(
            nn.Conv2d(1, 8, 7), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(8, 10, 5), nn.MaxPool2d(2), nn.ReLU(),
            nn.Flatten(), nn.Linear(490, 32), nn.ReLU(), nn.Linear(32, 6))
        self.cls = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(32, 32, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
            nn.Flatten(), nn.Linear(1600, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        theta = self.loc(x).view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size(), align_corners=False)
        warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return self.cls(warped), theta


def main(out):
    torch.manual_seed(7)
    model = STCNN()
    # A non-identity localization head so the test exercises the sampler, not just the classifier.
    with torch.no_grad():
        model.loc[9].weight.normal_(0, 0.01)
        model.loc[9].bias.copy_(torch.tensor([0.9, 0.1, 0.05, -0.1, 1.1, -0.05]))
    x = torch.rand(2, 1, 42, 42)
    logits, theta = model(x)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, out + "/torch_stcnn_state.safetensors", metadata={"format": "pt"})
    save_file({"input": x, "logits": logits.detach(), "theta": theta.detach()},
              out + "/torch_stcnn_io.safetensors")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/TorchFixtures")
