"""The benchmark ST-CNN of shared/bench/MODEL.md in PyTorch: the one definition every script uses.

Module names follow the state_dict names swift-stn writes (loc.0/3/7/9, cls.0/3/6/10/12), so a
checkpoint from `stn train` loads with load_state_dict(strict=True) once its optimizer.* tensors
are dropped, and a state dict saved from here loads into `stn` (`--init-from`, `stn eval`).

  classifier(classes)   the plain CNN (also MODEL.md's CNN baseline, named 0..12)
  STCNN(classes)        a spatial transformer (affine, align_corners=False) in front of it;
                        forward returns (logits, theta)
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def classifier(classes=10):
    """conv 5x5 (32, 32, 64, padding 2) each followed by max-pool 2 and ReLU, then 1600 -> 64 -> classes."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(32, 32, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Linear(1600, 64), nn.ReLU(), nn.Linear(64, classes))


class STCNN(nn.Module):
    """Localization network -> theta (N,2,3) -> affine_grid + grid_sample (bilinear, zeros,
    align_corners=False) of the 1x42x42 input -> classifier. The localization's last layer starts
    at the identity transform (weight 0, bias (1,0,0,0,1,0)), as swift-stn initializes it."""

    def __init__(self, classes=10):
        super().__init__()
        self.loc = nn.Sequential(
            nn.Conv2d(1, 8, 7), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(8, 10, 5), nn.MaxPool2d(2), nn.ReLU(),
            nn.Flatten(), nn.Linear(490, 32), nn.ReLU(), nn.Linear(32, 6))
        self.cls = classifier(classes)
        with torch.no_grad():
            self.loc[9].weight.zero_()
            self.loc[9].bias.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float32))

    def forward(self, x):
        theta = self.loc(x).view(-1, 2, 3)
        grid = F.affine_grid(theta, list(x.size()), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return self.cls(x), theta
