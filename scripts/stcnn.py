"""The benchmark ST-CNN of shared/bench/MODEL.md in PyTorch: the one definition every script uses.

Module names follow the state_dict names swift-stn writes (loc.0/3/7/9, cls.0/3/6/10/12), so a
checkpoint from `stn train` loads with load_state_dict(strict=True) once its optimizer.* tensors
are dropped, and a state dict saved from here loads into `stn` (`--init-from`, `stn eval`).

  classifier(classes)   the plain CNN (also MODEL.md's CNN baseline, named 0..12)
  STCNN(classes)        a spatial transformer (affine, align_corners=False) in front of it;
                        forward returns (logits, theta)
  STCNN(classes, transform="projective" | "tps", control_grid=4)
                        the same with swift-stn's projective or thin-plate-spline transformer
                        (`spatial_transformer: {transform: ...}`); theta is then the homography
                        (N,3,3) or the control points' source positions (N,K,2)
  projective_grid, tps_control_points, tps_grid
                        those two grid generators (docs/pytorch-interop.md)
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def classifier(classes=10, size=42):
    """conv 5x5 (32, 32, 64, padding 2) each followed by max-pool 2 and ReLU, then 64*s*s -> 64 ->
    classes, s = size halved three times (1600 inputs at 42x42, 576 at 28x28)."""
    s = size // 2 // 2 // 2
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(32, 32, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Linear(64 * s * s, 64), nn.ReLU(), nn.Linear(64, classes))


def projective_grid(params, size, align_corners=False):
    """The projective transformer's grid: params (N,8) = (h11 h12 h13 h21 h22 h23 h31 h32), h33 = 1,
    map affine_grid's output coordinates (x, y, 1) to (u/w, v/w). Returns (grid (N,H,W,2), H (N,3,3))."""
    n = params.shape[0]
    hom = torch.cat([params, torch.ones_like(params[:, :1])], 1).view(n, 3, 3)
    base = F.affine_grid(torch.eye(2, 3, dtype=params.dtype).expand(n, 2, 3), list(size), align_corners=align_corners)
    uvw = torch.cat([base, torch.ones_like(base[..., :1])], -1) @ hom.transpose(1, 2)[:, None]
    return uvw[..., :2] / uvw[..., 2:], hom


def tps_control_points(grid, dtype=torch.float32):
    """grid x grid control points spanning [-1, 1]^2, row by row from the top: (K,2)."""
    steps = torch.linspace(-1, 1, grid, dtype=torch.float64)
    return torch.stack([steps.repeat(grid), steps.repeat_interleave(grid)], -1).to(dtype)


def tps_grid(displacements, size, grid=4, align_corners=False):
    """The thin-plate-spline transformer's grid: displacements (N,2K) = (dx_1, dy_1, ...) of the
    control points c (tps_control_points); the standard TPS f with f(c_k) = c_k + d_k
    (U(r) = r^2 log r^2, kernels centred on c, affine part included) evaluated at affine_grid's
    output coordinates. Returns (grid (N,H,W,2), source points (N,K,2))."""
    n, dtype = displacements.shape[0], displacements.dtype
    c = tps_control_points(grid, torch.float64)
    k = c.shape[0]

    def U(r2):
        return torch.where(r2 > 0, r2 * torch.log(torch.where(r2 > 0, r2, torch.ones_like(r2))), torch.zeros_like(r2))

    L = torch.zeros(k + 3, k + 3, dtype=torch.float64)
    L[:k, :k] = U(((c[:, None] - c[None]) ** 2).sum(-1))
    P = torch.cat([torch.ones(k, 1, dtype=torch.float64), c], 1)
    L[:k, k:], L[k:, :k] = P, P.T
    M = torch.linalg.inv(L)[:, :k]  # (K+3, K): weights = M @ targets
    base = F.affine_grid(torch.eye(2, 3, dtype=dtype).expand(n, 2, 3), list(size), align_corners=align_corners)
    p = base[0].reshape(-1, 2).to(torch.float64)
    phi = torch.cat([U(((p[:, None] - c[None]) ** 2).sum(-1)), torch.ones(p.shape[0], 1, dtype=torch.float64), p], 1)
    B = (phi @ M).to(dtype)  # (H*W, K); f(p) = p + B @ d since a TPS reproduces affine maps
    d = displacements.view(n, k, 2)
    return base + (B @ d).view(n, *base.shape[1:]), c.to(dtype) + d


class STCNN(nn.Module):
    """Localization network -> transform parameters -> grid + grid_sample (bilinear, zeros,
    align_corners=False) of the 1 x size x size input (42 for RTS, 28 for R, P, E) -> classifier. The localization's last layer starts
    at the identity transform (weight 0, bias (1,0,0,0,1,0), (1,0,0,0,1,0,0,0) or zeros), as
    swift-stn initializes it. transform: "affine" (theta (N,2,3)), "projective" or "tps"."""

    def __init__(self, classes=10, transform="affine", control_grid=4, size=42):
        super().__init__()
        self.transform, self.control_grid = transform, control_grid
        loc = ((size - 6) // 2 - 4) // 2  # 7 at 42x42 (490 inputs), 3 at 28x28
        outputs = {"affine": 6, "projective": 8, "tps": 2 * control_grid * control_grid}[transform]
        self.loc = nn.Sequential(
            nn.Conv2d(1, 8, 7), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(8, 10, 5), nn.MaxPool2d(2), nn.ReLU(),
            nn.Flatten(), nn.Linear(10 * loc * loc, 32), nn.ReLU(), nn.Linear(32, outputs))
        self.cls = classifier(classes, size)
        identity = {"affine": [1, 0, 0, 0, 1, 0], "projective": [1, 0, 0, 0, 1, 0, 0, 0]}.get(transform, [0] * outputs)
        with torch.no_grad():
            self.loc[9].weight.zero_()
            self.loc[9].bias.copy_(torch.tensor(identity, dtype=torch.float32))

    def forward(self, x):
        params = self.loc(x)
        if self.transform == "projective":
            grid, theta = projective_grid(params, x.size())
        elif self.transform == "tps":
            grid, theta = tps_grid(params, x.size(), self.control_grid)
        else:
            theta = params.view(-1, 2, 3)
            grid = F.affine_grid(theta, list(x.size()), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return self.cls(x), theta
