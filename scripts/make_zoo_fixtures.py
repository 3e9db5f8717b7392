#!/usr/bin/env python3
"""PyTorch oracle for the energy-model zoo (src/nn/models): the seed's classes, in PyTorch.

Run from the repository root:

    python3 scripts/make_zoo_fixtures.py

The classes below are the seed's (shared/seed/models-implementation.md, TorchEBM's "Models
Implementation" page): BaseModel, MLPEnergyModel (with and without spectral norm),
ConvEnergyModel, NeuralEnergyFunction, ResidualBlock, ResNetEnergyModel and the custom SiLU /
orthogonal-init example (CustomEnergyModel). They are written as on that page, with one
change, in MLPEnergyModel._apply_spectral_norm:

    for name, module in self.named_modules():          # the seed
    for name, module in list(self.named_modules()):    # here

The seed's loop cannot run: `setattr(self, "network.0", ...)` adds an entry to
`self._modules` while `named_modules()` is iterating over it, and PyTorch raises
"RuntimeError: dictionary changed size during iteration" (this script checks that it still
does). With the list() the loop does what it was meant to: nn.utils.spectral_norm wraps each
Linear in place (weight -> weight_orig, weight_u, weight_v), and the setattr adds an alias
submodule named "network.0" for the same Linear, which adds no state-dict keys (this script
checks that the keys equal those of spectral_norm applied in place). So the state dict is
network.0.bias, network.0.weight_orig, network.0.weight_u, network.0.weight_v, ...,
output_layer.bias, output_layer.weight_orig, output_layer.weight_u, output_layer.weight_v.

For each case <name> it writes two files to test/fixtures/:

  zoo-<name>.safetensors      the model's state_dict, saved with safetensors.torch.save_file:
                              a pure PyTorch state dict (float32), as a user would save one
  zoo-<name>-io.safetensors   the oracle, all float32:
                                x                  the input batch
                                <mode>/energy      E(x) (BaseModel: its output features)
                                <mode>/grad_x      d sum(E(x)) / dx
                                <mode>/grad/<p>    d mean(E(x)) / d parameter p (named_parameters)
                                <mode>/buffer/<b>  (spectral norm) every buffer after the forward
                              <mode> is "eval" for every case and also "train" for the
                              spectral-norm case: in training mode PyTorch's forward runs one
                              power iteration first (updating weight_u, weight_v); in eval mode
                              none. Each mode starts from the saved state dict, and E, grad_x
                              and the parameter gradients all come from that one forward.
                              Metadata: "case" (JSON: the config, the state-dict keys in
                              PyTorch's order, the parameter names, input and output shapes,
                              the torch version).

Models are built and initialised in float32 from a fixed seed (the state dict is what the TS
side loads exactly), then copied to float64 for the oracle; results are rounded to float32.
One thread and deterministic algorithms make the files byte-for-byte reproducible.
"""

from __future__ import annotations

import copy
import json
import os
from typing import List, Optional

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

F32 = torch.float32
F64 = torch.float64


# ---------------------------------------------------------------------------------------------
# The seed's classes (shared/seed/models-implementation.md)


class BaseEnergyFunction(nn.Module):
    """Stand-in for torchebm.core.BaseEnergyFunction (not installed here): an nn.Module."""


class BaseModel(nn.Module):
    """Base class for all neural network models."""

    def __init__(self, input_dim: int, hidden_dims: List[int], activation: Optional[nn.Module] = None):
        super().__init__()
        self.input_dim = input_dim
        self.hidden_dims = hidden_dims
        self.activation = activation or nn.ReLU()
        self._build_network()

    def _build_network(self):
        layers = []
        prev_dim = self.input_dim
        for dim in self.hidden_dims:
            layers.append(nn.Linear(prev_dim, dim))
            layers.append(self.activation)
            prev_dim = dim
        self.network = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


class MLPEnergyModel(BaseModel):
    """Multi-layer perceptron energy model."""

    def __init__(self, input_dim: int, hidden_dims: List[int], activation: Optional[nn.Module] = None, use_spectral_norm: bool = False):
        super().__init__(input_dim, hidden_dims, activation)
        self.output_layer = nn.Linear(hidden_dims[-1], 1)
        if use_spectral_norm:
            self._apply_spectral_norm()

    def _apply_spectral_norm(self):
        # The seed iterates self.named_modules() directly, which raises (see the docstring).
        for name, module in list(self.named_modules()):
            if isinstance(module, nn.Linear):
                setattr(self, name, nn.utils.spectral_norm(module))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = super().forward(x)
        energy = self.output_layer(features)
        return energy.squeeze(-1)


class SeedLiteralMLPEnergyModel(MLPEnergyModel):
    """MLPEnergyModel with the seed's _apply_spectral_norm exactly as written."""

    def _apply_spectral_norm(self):
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                setattr(self, name, nn.utils.spectral_norm(module))


class ConvEnergyModel(nn.Module):
    """Convolutional energy model for image data."""

    def __init__(self, input_channels: int, image_size: int, channels: List[int] = [32, 64, 128, 256], kernel_size: int = 3, activation: Optional[nn.Module] = None):
        super().__init__()
        self.input_channels = input_channels
        self.image_size = image_size
        self.activation = activation or nn.LeakyReLU(0.2)
        layers = []
        in_channels = input_channels
        for out_channels in channels:
            layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=2, padding=kernel_size // 2))
            layers.append(self.activation)
            in_channels = out_channels
        self.conv_net = nn.Sequential(*layers)
        feature_size = image_size // (2 ** len(channels))
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * feature_size * feature_size, 128),
            self.activation,
            nn.Linear(128, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x.shape) == 2:
            x = x.view(-1, self.input_channels, self.image_size, self.image_size)
        features = self.conv_net(x)
        energy = self.fc(features)
        return energy.squeeze(-1)


class NeuralEnergyFunction(BaseEnergyFunction):
    """Energy function implemented using a neural network."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ResidualBlock(nn.Module):
    """Residual block for energy models."""

    def __init__(self, dim: int, activation: nn.Module = nn.ReLU()):
        super().__init__()
        self.block = nn.Sequential(nn.Linear(dim, dim), activation, nn.Linear(dim, dim))
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResNetEnergyModel(nn.Module):
    """ResNet-style energy model."""

    def __init__(self, input_dim: int, hidden_dim: int = 128, n_blocks: int = 4, activation: nn.Module = nn.ReLU()):
        super().__init__()
        self.input_proj = nn.Sequential(nn.Linear(input_dim, hidden_dim), activation)
        self.blocks = nn.ModuleList([ResidualBlock(hidden_dim, activation) for _ in range(n_blocks)])
        self.output_proj = nn.Linear(hidden_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_proj(x)
        for block in self.blocks:
            h = block(h)
        energy = self.output_proj(h)
        return energy.squeeze(-1)


class CustomEnergyModel(nn.Module):
    """The seed's "Custom Model Example": SiLU, orthogonal weights, zero biases."""

    def __init__(self, input_dim, hidden_dim=128):
        super().__init__()
        self.network = nn.Sequential(
            nn.Linear(input_dim, hidden_dim),
            nn.SiLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.SiLU(),
            nn.Linear(hidden_dim, 1),
        )
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.orthogonal_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.network(x).squeeze(-1)


# ---------------------------------------------------------------------------------------------
# Cases. "config" is what the TS test passes to its own class (camelCase options).


def cases():
    out = []

    def add(name, kind, config, build, in_shape, modes=("eval",), seed=0, scale=1.0):
        torch.manual_seed(seed)
        model = build()
        gen = torch.Generator().manual_seed(1000 + seed)
        x = (torch.randn(in_shape, generator=gen, dtype=F32) * scale).contiguous()
        out.append(dict(name=name, kind=kind, config=config, model=model, x=x, modes=modes))

    add("base", "BaseModel", {"inputDim": 3, "hiddenDims": [16, 8], "activation": "tanh"},
        lambda: BaseModel(3, [16, 8], nn.Tanh()), (10, 3), seed=1)
    add("mlp", "MLPEnergyModel", {"inputDim": 2, "hiddenDims": [32, 32]},
        lambda: MLPEnergyModel(2, [32, 32]), (16, 2), seed=2, scale=2.0)
    add("mlp-sn", "MLPEnergyModel", {"inputDim": 2, "hiddenDims": [32, 32], "activation": "silu", "useSpectralNorm": True},
        lambda: MLPEnergyModel(2, [32, 32], nn.SiLU(), use_spectral_norm=True), (16, 2), modes=("train", "eval"), seed=3, scale=2.0)
    add("conv", "ConvEnergyModel", {"inputChannels": 3, "imageSize": 8, "channels": [8, 16]},
        lambda: ConvEnergyModel(3, 8, [8, 16]), (4, 3, 8, 8), seed=4)
    add("conv-k5", "ConvEnergyModel", {"inputChannels": 1, "imageSize": 8, "channels": [4, 8], "kernelSize": 5, "activation": "silu"},
        lambda: ConvEnergyModel(1, 8, [4, 8], kernel_size=5, activation=nn.SiLU()), (3, 1, 8, 8), seed=5)
    add("resnet", "ResNetEnergyModel", {"inputDim": 4, "hiddenDim": 16, "nBlocks": 2},
        lambda: ResNetEnergyModel(4, hidden_dim=16, n_blocks=2), (12, 4), seed=6)
    add("custom", "CustomEnergyModel", {"inputDim": 2, "hiddenDim": 32},
        lambda: CustomEnergyModel(2, hidden_dim=32), (16, 2), seed=7, scale=2.0)
    add("neural", "NeuralEnergyFunction", {"inputDim": 2, "hidden": 16},
        lambda: NeuralEnergyFunction(nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 1))),
        (16, 2), seed=8)
    return out


def check_seed_literal_spectral_norm():
    """The seed's _apply_spectral_norm, as written, raises in PyTorch; with list() its keys are in-place spectral_norm's."""
    try:
        SeedLiteralMLPEnergyModel(2, [4, 4], use_spectral_norm=True)
    except RuntimeError as e:
        assert "changed size during iteration" in str(e), e
        literal = f"RuntimeError: {e}"
    else:
        raise AssertionError("the seed's _apply_spectral_norm ran; re-check the spectral-norm key layout")
    fixed = MLPEnergyModel(2, [4, 4], use_spectral_norm=True)
    inplace = MLPEnergyModel(2, [4, 4])
    for m in [m for m in inplace.modules() if isinstance(m, nn.Linear)]:
        nn.utils.spectral_norm(m)
    assert list(fixed.state_dict().keys()) == list(inplace.state_dict().keys()), (fixed.state_dict().keys(), inplace.state_dict().keys())
    return literal


def f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(F32).contiguous().clone()


def run_mode(model: nn.Module, x: torch.Tensor, mode: str, out: dict):
    """One forward of a float64 copy of `model` in `mode`; E, dE/dx and d mean(E)/d params from it."""
    m = copy.deepcopy(model).to(F64)
    m.train(mode == "train")
    xx = x.to(F64).requires_grad_(True)
    e = m(xx)
    (gx,) = torch.autograd.grad(e.sum(), xx, retain_graph=True)
    e.mean().backward()
    out[f"{mode}/energy"] = f32(e)
    out[f"{mode}/grad_x"] = f32(gx)
    for k, p in m.named_parameters():
        out[f"{mode}/grad/{k}"] = f32(p.grad)
    for k, b in m.named_buffers():
        out[f"{mode}/buffer/{k}"] = f32(b)
    return tuple(e.shape)


def main():
    # Byte-for-byte reproducible files: one thread and deterministic kernels (multi-threaded
    # float64 reductions otherwise vary in their last bit from run to run).
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    fixtures = os.path.join(root, "test", "fixtures")
    literal = check_seed_literal_spectral_norm()
    print(f"seed's _apply_spectral_norm as written: {literal}")
    for c in cases():
        model: nn.Module = c["model"]
        state = {k: f32(v) for k, v in model.state_dict().items()}
        keys = list(state.keys())
        model_path = os.path.join(fixtures, f"zoo-{c['name']}.safetensors")
        save_file(state, model_path)
        io = {"x": c["x"]}
        out_shape = None
        for mode in c["modes"]:
            out_shape = run_mode(model, c["x"], mode, io)
        meta = {
            "name": c["name"],
            "kind": c["kind"],
            "config": c["config"],
            "keys": keys,
            "shapes": {k: list(v.shape) for k, v in state.items()},
            "parameters": [k for k, _ in model.named_parameters()],
            "buffers": [k for k, _ in model.named_buffers()],
            "modes": list(c["modes"]),
            "input": list(c["x"].shape),
            "output": list(out_shape),
            "torch": torch.__version__,
        }
        if c["kind"] == "MLPEnergyModel" and c["config"].get("useSpectralNorm"):
            meta["seedLiteral"] = literal
        io_path = os.path.join(fixtures, f"zoo-{c['name']}-io.safetensors")
        # One metadata key: safetensors writes several in hash order, which would vary the bytes.
        save_file(io, io_path, metadata={"case": json.dumps(meta)})
        # Round trip: the model file loads back into a fresh instance, strictly.
        assert set(load_file(model_path)) == set(keys)
        assert set(load_file(io_path)) == set(io)
        print(f"wrote zoo-{c['name']}: {c['kind']} keys {keys}")


if __name__ == "__main__":
    main()
