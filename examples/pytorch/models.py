"""The seed's PyTorch energy models (shared/seed/models-implementation.md), as webgpu-ebm mirrors
them: the same module tree, so the state-dict names (conv_net.0.weight, fc.1.weight, ...) are the
ones webgpu-ebm's ConvEnergyModel and MLPEnergyModel load.

One change from the seed page: ConvEnergyModel sizes its first Linear from the true side of the
conv stack's output (the conv arithmetic, floor((s + 2p - k) / 2) + 1 per layer) rather than the
seed's image_size // 2 ** len(channels), which is wrong whenever a stride-2 convolution rounds up
(28 with three or more layers). Where the two agree (28 with two layers, 32 with any) the module,
its names and its shapes are exactly the seed's.
"""
from typing import List, Optional

import torch
import torch.nn as nn


class BaseModel(nn.Module):
    """The seed's MLP trunk: Linear + activation per hidden dim, one shared activation module."""

    def __init__(self, input_dim: int, hidden_dims: List[int], activation: Optional[nn.Module] = None):
        super().__init__()
        self.input_dim = input_dim
        self.hidden_dims = hidden_dims
        self.activation = activation or nn.ReLU()
        layers = []
        prev_dim = input_dim
        for dim in hidden_dims:
            layers.append(nn.Linear(prev_dim, dim))
            layers.append(self.activation)
            prev_dim = dim
        self.network = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


class MLPEnergyModel(BaseModel):
    """The seed's MLP energy: the trunk, then Linear(hidden_dims[-1], 1), squeezed to [batch]."""

    def __init__(self, input_dim: int, hidden_dims: List[int], activation: Optional[nn.Module] = None):
        super().__init__(input_dim, hidden_dims, activation)
        self.output_layer = nn.Linear(hidden_dims[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_layer(super().forward(x)).squeeze(-1)


def conv_feature_size(image_size: int, n_layers: int, kernel_size: int) -> int:
    """The side of the maps after n stride-2 convolutions with padding kernel_size // 2."""
    side = image_size
    for _ in range(n_layers):
        side = (side + 2 * (kernel_size // 2) - kernel_size) // 2 + 1
    return side


class ConvEnergyModel(nn.Module):
    """The seed's convolutional energy model for images [batch, C, S, S] (or flat rows)."""

    def __init__(
        self,
        input_channels: int,
        image_size: int,
        channels: List[int] = [32, 64, 128, 256],
        kernel_size: int = 3,
        activation: Optional[nn.Module] = None,
    ):
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
        feature_size = conv_feature_size(image_size, len(channels), kernel_size)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * feature_size * feature_size, 128),
            self.activation,
            nn.Linear(128, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x.shape) == 2:
            x = x.view(-1, self.input_channels, self.image_size, self.image_size)
        return self.fc(self.conv_net(x)).squeeze(-1)


ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
    "sigmoid": nn.Sigmoid,
}
