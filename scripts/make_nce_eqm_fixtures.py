#!/usr/bin/env python3
"""PyTorch oracle for NoiseContrastiveEstimation and EquilibriumMatchingLoss (src/train/losses).

Run from the repository root:

    python3 scripts/make_nce_eqm_fixtures.py

Writes test/fixtures/nce-eqm.safetensors (float32), for an MLP energy 2-16-16-1 with SiLU
(MLPEnergyModel's names: network.0, network.2, output_layer):

  model/<name>              the state dict the TS side loads
  nce/x, nce/y              the data batch [32, 2] and the noise draws [48, 2] (nu = 1.5)
  nce/loc, nce/scale        the Gaussian noise's per-element mean and std [2]
  nce/c                     the log-normaliser c [1]
  nce/loss                  mean softplus(-h(x)) + nu mean softplus(h(y)),
                            h(u) = -E(u) + c - log nu - log p_n(u)
  nce/grad/<name>, nce/grad_c   its gradients
  eqm/x1, eqm/x0, eqm/t     data [32, 2], noise [32, 2], times [32]
  eqm/<interp>/loss         mean (grad_x E(x_t) + u_t c(t))^2 over batch and elements,
                            c(t) = 4 min(1, (1 - t) / 0.2), for interp linear (x_t = t x1 +
                            (1 - t) x0) and cosine (x_t = sin(pi t/2) x1 + cos(pi t/2) x0)
  eqm/<interp>/grad/<name>  its gradients (through the double backward)

The formulas are written here from TorchEBM's docs (losses/noise_contrastive_estimation.py,
losses/equilibrium_matching.py with energy_type on a scalar energy, loss_utils.compute_eqm_ct),
computed in float64 and rounded to float32.
"""
import json
import math

import torch
from safetensors.torch import save_file

torch.manual_seed(14)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.network = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.SiLU(), torch.nn.Linear(16, 16), torch.nn.SiLU())
        self.output_layer = torch.nn.Linear(16, 1)

    def forward(self, x):
        return self.output_layer(self.network(x)).squeeze(-1)


model = MLP()
state32 = {k: v.detach().clone().float() for k, v in model.state_dict().items()}
model = model.double()
names = [n for n, _ in model.named_parameters()]
out = {f"model/{k}": v.contiguous() for k, v in state32.items()}


def f32(t):
    return t.detach().float().contiguous()


# ---- NCE ----
nu = 1.5
x = torch.randn(32, 2, dtype=torch.float64) * 0.7 + torch.tensor([0.5, -0.3], dtype=torch.float64)
y = torch.randn(48, 2, dtype=torch.float64) * 1.2
loc = torch.tensor([0.4, -0.2], dtype=torch.float64)
scale = torch.tensor([1.1, 0.8], dtype=torch.float64)
c = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)


def log_pn(u):
    z = (u - loc) / scale
    return (-0.5 * z.square() - torch.log(scale) - 0.5 * math.log(2 * math.pi)).sum(1)


model.zero_grad()
h_x = -model(x) + c - math.log(nu) - log_pn(x)
h_y = -model(y) + c - math.log(nu) - log_pn(y)
loss = torch.nn.functional.softplus(-h_x).mean() + nu * torch.nn.functional.softplus(h_y).mean()
loss.backward()
out.update({"nce/x": f32(x), "nce/y": f32(y), "nce/loc": f32(loc), "nce/scale": f32(scale), "nce/c": f32(c), "nce/loss": f32(loss.reshape(1)), "nce/grad_c": f32(c.grad)})
for n, p in model.named_parameters():
    out[f"nce/grad/{n}"] = f32(p.grad)

# ---- EqM ----
x1 = torch.randn(32, 2, dtype=torch.float64) * 0.8
x0 = torch.randn(32, 2, dtype=torch.float64)
t = torch.rand(32, dtype=torch.float64)
out.update({"eqm/x1": f32(x1), "eqm/x0": f32(x0), "eqm/t": f32(t)})
ct = ((1 - t) / (1 - 0.8)).clamp(max=1.0) * 4.0
tt = t[:, None]
paths = {
    "linear": (tt * x1 + (1 - tt) * x0, x1 - x0),
    "cosine": (torch.sin(math.pi * tt / 2) * x1 + torch.cos(math.pi * tt / 2) * x0, (math.pi / 2) * (torch.cos(math.pi * tt / 2) * x1 - torch.sin(math.pi * tt / 2) * x0)),
}
for name, (xt, ut) in paths.items():
    model.zero_grad()
    leaf = xt.detach().clone().requires_grad_(True)
    g = torch.autograd.grad(model(leaf).sum(), leaf, create_graph=True)[0]
    target = -ut * ct[:, None]
    loss = (g - target).square().mean()
    loss.backward()
    out[f"eqm/{name}/loss"] = f32(loss.reshape(1))
    for n, p in model.named_parameters():
        # The output bias does not reach grad_x E: no gradient (zeros here, null on the TS side).
        out[f"eqm/{name}/grad/{n}"] = f32(p.grad if p.grad is not None else torch.zeros_like(p))

meta = {"case": json.dumps({"params": names, "nu": nu, "interpolants": list(paths), "torch": torch.__version__})}
save_file(out, "test/fixtures/nce-eqm.safetensors", metadata=meta)
print(f"wrote test/fixtures/nce-eqm.safetensors ({len(out)} tensors)")
