#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for the ops that have no case in ../shared/golden.

Run from anywhere: python3 make_fixtures.py  (torch + safetensors, CPU, float32).
Each file is one case: tensors named like the golden files (input, output, grad_output,
grad_input, ...), settings as string metadata. Gradients are those of sum(output * grad_output).
The Swift tests (Tests/STNNetworkTests/Ops/*Tests.swift) read every file with a given prefix.
"""
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(20261124)


def save(name, tensors, metadata):
    tensors = {k: v.detach().contiguous().to(torch.float32) for k, v in tensors.items()}
    save_file(tensors, os.path.join(HERE, name + ".safetensors"), metadata={k: str(v) for k, v in metadata.items()})


def leaf(*shape):
    return torch.randn(*shape, dtype=torch.float32).requires_grad_(True)


# Average pooling: ceil mode, padding, count_include_pad both ways.
avg_cases = [
    dict(shape=(2, 3, 7, 6), kernel=2, stride=2, padding=0, ceil_mode=False, count_include_pad=True),
    dict(shape=(1, 2, 7, 9), kernel=3, stride=2, padding=1, ceil_mode=True, count_include_pad=True),
    dict(shape=(1, 2, 7, 9), kernel=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(shape=(2, 1, 5, 5), kernel=3, stride=3, padding=1, ceil_mode=True, count_include_pad=True),
    dict(shape=(1, 1, 6, 5), kernel=2, stride=1, padding=1, ceil_mode=False, count_include_pad=False),
]
for i, c in enumerate(avg_cases):
    x = leaf(*c["shape"])
    y = F.avg_pool2d(x, c["kernel"], c["stride"], c["padding"], ceil_mode=c["ceil_mode"], count_include_pad=c["count_include_pad"])
    gy = torch.randn_like(y)
    (y * gy).sum().backward()
    save(f"avgpool2d_{i}", dict(input=x, output=y, grad_output=gy, grad_input=x.grad),
         dict(kernel=c["kernel"], stride=c["stride"], padding=c["padding"], ceil_mode=c["ceil_mode"], count_include_pad=c["count_include_pad"]))

# Max pooling with padding (the shared golden cases have none).
max_cases = [
    dict(shape=(1, 2, 7, 9), kernel=3, stride=2, padding=1, ceil_mode=True),
    dict(shape=(2, 1, 6, 6), kernel=2, stride=2, padding=1, ceil_mode=False),
    dict(shape=(1, 3, 5, 8), kernel=4, stride=3, padding=2, ceil_mode=True),
]
for i, c in enumerate(max_cases):
    x = leaf(*c["shape"])
    y = F.max_pool2d(x, c["kernel"], c["stride"], c["padding"], ceil_mode=c["ceil_mode"])
    gy = torch.randn_like(y)
    (y * gy).sum().backward()
    save(f"maxpool2d_pad_{i}", dict(input=x, output=y, grad_output=gy, grad_input=x.grad),
         dict(kernel=c["kernel"], stride=c["stride"], padding=c["padding"], ceil_mode=c["ceil_mode"]))

# Convolution with dilation and non-square kernels/inputs (the golden cases have dilation 1).
conv_cases = [
    dict(n=2, c=3, h=9, w=11, o=4, kh=3, kw=2, stride=2, padding=2, dilation=2),
    dict(n=1, c=2, h=8, w=7, o=3, kh=3, kw=3, stride=1, padding=1, dilation=3),
]
for i, c in enumerate(conv_cases):
    x = leaf(c["n"], c["c"], c["h"], c["w"])
    w = leaf(c["o"], c["c"], c["kh"], c["kw"])
    b = leaf(c["o"])
    y = F.conv2d(x, w, b, stride=c["stride"], padding=c["padding"], dilation=c["dilation"])
    gy = torch.randn_like(y)
    (y * gy).sum().backward()
    save(f"conv2d_dilated_{i}", dict(input=x, weight=w, bias=b, output=y, grad_output=gy, grad_input=x.grad, grad_weight=w.grad, grad_bias=b.grad),
         dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"]))

# Activations.
x0 = torch.randn(3, 4, 5) * 3
for op, f, meta in [
    ("relu", F.relu, {}),
    ("leaky_relu", lambda t: F.leaky_relu(t, 0.2), {"slope": 0.2}),
    ("sigmoid", torch.sigmoid, {}),
    ("tanh", torch.tanh, {}),
]:
    x = x0.clone().requires_grad_(True)
    y = f(x)
    gy = torch.randn_like(y)
    (y * gy).sum().backward()
    save(f"activation_{op}", dict(input=x, output=y, grad_output=gy, grad_input=x.grad), dict(op=op, **meta))

# Linear.
x, w, b = leaf(5, 7), leaf(3, 7), leaf(3)
y = F.linear(x, w, b)
gy = torch.randn_like(y)
(y * gy).sum().backward()
save("linear_0", dict(input=x, weight=w, bias=b, output=y, grad_output=gy, grad_input=x.grad, grad_weight=w.grad, grad_bias=b.grad), {})

# Batch norm, training and evaluation.
for training in (True, False):
    x = (torch.randn(4, 3, 5, 6) * 2 + 1).requires_grad_(True)
    gamma = (torch.rand(3) + 0.5).requires_grad_(True)
    beta = torch.randn(3).requires_grad_(True)
    running_mean = torch.randn(3)
    running_var = torch.rand(3) + 0.5
    rm, rv = running_mean.clone(), running_var.clone()
    y = F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=0.1, eps=1e-5)
    gy = torch.randn_like(y)
    (y * gy).sum().backward()
    save(f"batchnorm2d_{'train' if training else 'eval'}",
         dict(input=x, gamma=gamma, beta=beta, running_mean=running_mean, running_var=running_var,
              running_mean_after=rm, running_var_after=rv, output=y, grad_output=gy,
              grad_input=x.grad, grad_gamma=gamma.grad, grad_beta=beta.grad),
         dict(training=training, momentum=0.1, eps=1e-5))

# Dropout: PyTorch's own mask cannot be reproduced, but its scaling convention can be checked.
x = torch.rand(1000) + 0.5
y = F.dropout(x, p=0.3, training=True)
save("dropout_0", dict(input=x, output=y), dict(probability=0.3))
