#!/usr/bin/env python3
"""Reference tensors for the projective and thin-plate-spline grids of STNWarp, from Kornia.

Run from anywhere: python3 make_warp_fixtures.py  (torch, kornia, safetensors; CPU).
Each file is one case; tensors are float32, settings are string metadata. Gradients are those
of sum(output * grad_output) (and of sum(grid * grad_grid) for the grid alone), by autograd.
Read by Tests/STNWarpTests/ProjectiveGridTests.swift and ThinPlateSplineGridTests.swift.

Projective (projective_*.safetensors): the sampling homography H maps output normalized
coordinates to input normalized coordinates, h33 = 1. It comes from 4 point pairs through
kornia.geometry.transform.get_perspective_transform(points_out, points_in); the grid is
kornia's create_meshgrid + warp_grid (the grid of homography_warp with
normalized_homography=True), the output is homography_warp itself, so the image gradients are
torch.grid_sample's. A pixel-space check rides along: kornia's warp_perspective with the
source -> destination pixel homography `pixel_homography` (align_corners=True), whose output
`pixel_output` the Swift test reproduces through Homography.samplingHomography.

Thin-plate spline (tps_*.safetensors): control points c (a regular g x g grid on [-1, 1]^2,
row by row from the top) and their source positions s = c + displacement (N,K,2). The spline
f(c_k) = s_k is the standard one (kernels centred on the control points, U(r) = r^2 log r^2),
solved here with torch.linalg.solve in float64 (`tps_solve`); it is evaluated and sampled with
Kornia's warp_points_tps / warp_image_tps (kernel_centers = c; their basis is U/2, so their
kernel weights are twice ours). NOTE: Kornia's get_tps_transform(a, b) centres the kernels on
b, not on the interpolated points a: another spline through the same pairs (it differs by a few
percent of the image between the control points), which is why the solve is written out here.
"""
import os
import sys

import torch
from kornia.geometry import create_meshgrid
from kornia.geometry.transform import (get_perspective_transform, homography_warp, warp_image_tps,
                                       warp_perspective, warp_points_tps)
from kornia.geometry.transform.homography_warper import warp_grid
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "scripts"))
from stcnn import projective_grid, tps_grid  # noqa: E402  (the PyTorch modules of docs/pytorch-interop.md)

torch.manual_seed(20261212)


def save(name, tensors, metadata):
    tensors = {k: v.detach().contiguous().to(torch.float32) for k, v in tensors.items()}
    save_file(tensors, os.path.join(HERE, name + ".safetensors"), metadata={k: str(v) for k, v in metadata.items()})


def grad_of(value, leaf, weight):
    (gradient,) = torch.autograd.grad((value * weight).sum(), leaf, retain_graph=True)
    return gradient


# MARK: - Projective

projective_cases = [
    dict(n=2, c=2, h=7, w=9, out_h=6, out_w=10, align_corners=False, jitter=0.25),
    dict(n=2, c=1, h=8, w=8, out_h=8, out_w=8, align_corners=True, jitter=0.3),
    dict(n=1, c=3, h=5, w=11, out_h=9, out_w=7, align_corners=False, jitter=0.45),
]
for i, case in enumerate(projective_cases):
    n, c, h, w, oh, ow, ac = case["n"], case["c"], case["h"], case["w"], case["out_h"], case["out_w"], case["align_corners"]
    corners = torch.tensor([[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]], dtype=torch.float64)
    points_out = corners.expand(n, 4, 2).clone()
    points_in = points_out + case["jitter"] * (torch.rand(n, 4, 2, dtype=torch.float64) * 2 - 1)
    hom = get_perspective_transform(points_out, points_in)
    hom = (hom / hom[:, 2:3, 2:3]).to(torch.float32).requires_grad_(True)
    image = torch.randn(n, c, h, w, dtype=torch.float32, requires_grad=True)
    base = create_meshgrid(oh, ow, normalized_coordinates=True, align_corners=ac)
    grid = warp_grid(base, hom)
    output = homography_warp(image, hom, (oh, ow), mode="bilinear", padding_mode="zeros", align_corners=ac)
    grad_output = torch.randn_like(output)
    grad_grid = torch.randn_like(grid)
    # scripts/stcnn.py's projective transformer samples with this grid too.
    assert torch.allclose(projective_grid(hom.reshape(n, 9)[:, :8], (n, c, oh, ow), ac)[0], grid, atol=1e-5)
    # Pixel space: warp_perspective with the source -> destination pixel homography.
    pixel_homography = get_perspective_transform(
        torch.tensor([[[0.0, 0.0], [w - 1.0, 0.0], [w - 1.0, h - 1.0], [0.0, h - 1.0]]]).expand(n, 4, 2),
        torch.tensor([[[0.0, 0.0], [ow - 1.0, 0.0], [ow - 1.0, oh - 1.0], [0.0, oh - 1.0]]]).expand(n, 4, 2)
        + case["jitter"] * 3 * (torch.rand(n, 4, 2) * 2 - 1))
    pixel_output = warp_perspective(image, pixel_homography, (oh, ow), mode="bilinear", padding_mode="zeros", align_corners=True)
    save(f"projective_{i}", dict(
        points_out=points_out, points_in=points_in, homography=hom, input=image, grid=grid, output=output,
        grad_output=grad_output, grad_input=grad_of(output, image, grad_output), grad_homography=grad_of(output, hom, grad_output),
        grad_grid=grad_grid, grid_grad_homography=grad_of(grid, hom, grad_grid),
        pixel_homography=pixel_homography, pixel_output=pixel_output),
        dict(align_corners=ac, out_h=oh, out_w=ow))


# MARK: - Thin-plate spline

def U(r2):
    """r^2 log r^2, 0 at 0 (the paper's basis; Kornia's is half of it)."""
    safe = torch.where(r2 > 0, r2, torch.ones_like(r2))
    return torch.where(r2 > 0, r2 * safe.log(), torch.zeros_like(r2))


def tps_solve(control, targets):
    """Standard TPS through control[k] -> targets[:, k]: kernel weights (N,K,2), affine weights (N,3,2)."""
    k = control.shape[0]
    K = U(((control[:, None] - control[None]) ** 2).sum(-1))
    P = torch.cat([torch.ones(k, 1, dtype=control.dtype), control], 1)
    L = torch.zeros(k + 3, k + 3, dtype=control.dtype)
    L[:k, :k] = K
    L[:k, k:] = P
    L[k:, :k] = P.T
    rhs = torch.cat([targets, torch.zeros(targets.shape[0], 3, 2, dtype=targets.dtype)], 1)
    weights = torch.linalg.solve(L, rhs)
    return weights[:, :k], weights[:, k:]


tps_cases = [
    dict(n=2, c=2, h=7, w=9, grid=4, align_corners=False, scale=0.12),
    dict(n=2, c=1, h=6, w=6, grid=3, align_corners=True, scale=0.2),
    dict(n=1, c=1, h=9, w=5, grid=4, align_corners=False, scale=0.3),
]
for i, case in enumerate(tps_cases):
    n, c, h, w, g, ac = case["n"], case["c"], case["h"], case["w"], case["grid"], case["align_corners"]
    steps = torch.linspace(-1, 1, g, dtype=torch.float64)
    control = torch.stack([steps.repeat(g), steps.repeat_interleave(g)], -1)  # row by row from the top
    displacement = case["scale"] * torch.randn(n, g * g, 2, dtype=torch.float64)
    source_points = (control + displacement).to(torch.float32).to(torch.float64).requires_grad_(True)
    kernel_weights, affine_weights = tps_solve(control, source_points)
    centres = control.expand(n, g * g, 2)
    image = torch.randn(n, c, h, w, dtype=torch.float64, requires_grad=True)
    base = create_meshgrid(h, w, normalized_coordinates=True, align_corners=ac, dtype=torch.float64).reshape(1, -1, 2).expand(n, -1, -1)
    grid = warp_points_tps(base, centres, 2 * kernel_weights, affine_weights).view(n, h, w, 2)
    output = warp_image_tps(image, centres, 2 * kernel_weights, affine_weights, align_corners=ac)
    grad_output = torch.randn_like(output)
    grad_grid = torch.randn_like(grid)
    # scripts/stcnn.py's TPS transformer samples with this grid too.
    assert torch.allclose(tps_grid(displacement.reshape(n, -1), (n, c, h, w), g, ac)[0], grid.detach(), atol=1e-9)
    points = torch.rand(1, 7, 2, dtype=torch.float64) * 2.4 - 1.2
    points_warped = warp_points_tps(points.expand(n, -1, -1), centres, 2 * kernel_weights, affine_weights)
    save(f"tps_{i}", dict(
        control_points=control, source_points=source_points, kernel_weights=kernel_weights, affine_weights=affine_weights,
        input=image, grid=grid, output=output, grad_output=grad_output,
        grad_input=grad_of(output, image, grad_output), grad_source_points=grad_of(output, source_points, grad_output),
        grad_grid=grad_grid, grid_grad_source_points=grad_of(grid, source_points, grad_grid),
        points=points[0], points_warped=points_warped),
        dict(align_corners=ac, control_grid=g))
print("wrote", len(projective_cases), "projective and", len(tps_cases), "thin-plate-spline cases to", HERE)
