#!/usr/bin/env python3
"""PyTorch oracle for the optimizers, LR schedulers and GradScaler: test/fixtures/optim.safetensors.

Run from the repository root: python3 scripts/make_optim_fixtures.py

The loss is a fixed quadratic f(w) = 0.5 x^T A x - b^T x over x = concat(w1.flatten(), w2),
with w1 of shape [3, 5] and w2 of shape [7] (odd sizes: the kernels' vec4 tails are exercised)
and A symmetric positive definite. Everything runs in float32, as torch.optim does on the CPU
(single-tensor path).

Tensors:
  A [22, 22], b [22], w1_0 [3, 5], w2_0 [7]            the problem and the starting point
  <case>/traj [STEPS + 1, 22]                            x before the first step and after each
  <case>/state/<i>/<key>                                 optimizer state after the last step
                                                         (i: parameter index, key: exp_avg, ...)
  sched/<name> [SCHED_STEPS + 1] (F64)                   lr after construction and each step()
  scaler/traj [13, 22], scaler/scale [12]                Adam under GradScaler, inf injected
                                                         into w2's grad at SCALER_INF_STEPS
Metadata: ``cases`` (JSON list of {id, optimizer, options}), ``schedulers`` (JSON {name: spec}),
``scaler`` (JSON: options, inf steps, Adam options).
"""
import json
import math
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
STEPS = 20
SCHED_STEPS = 30
N1, N2 = (3, 5), 7
D = N1[0] * N1[1] + N2

# A = Q diag(eig) Q^T, symmetrised in float32 so A == A^T exactly (the gradient is then A x - b).
q, _ = torch.linalg.qr(torch.randn(D, D, dtype=torch.float64))
eig = torch.linspace(0.5, 4.0, D, dtype=torch.float64)
A = (q @ torch.diag(eig) @ q.T).float()
A = (A + A.T) / 2
b = torch.randn(D)
w1_0 = torch.randn(*N1)
w2_0 = torch.randn(N2)


def loss_of(w1, w2):
    x = torch.cat([w1.reshape(-1), w2])
    return 0.5 * (x @ (A @ x)) - b @ x


def flat(w1, w2):
    return torch.cat([w1.detach().reshape(-1), w2.detach()]).clone()


CASES = [
    ("sgd", "SGD", {"lr": 0.1}),
    ("sgd_momentum", "SGD", {"lr": 0.05, "momentum": 0.9}),
    ("sgd_nesterov", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("sgd_damp_wd", "SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1}),
    ("sgd_maximize", "SGD", {"lr": 0.02, "momentum": 0.5, "maximize": True}),
    ("adam", "Adam", {"lr": 0.05}),
    ("adam_wd", "Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("adam_amsgrad", "Adam", {"lr": 0.05, "betas": (0.8, 0.99), "amsgrad": True}),
    ("adam_maximize", "Adam", {"lr": 0.01, "maximize": True}),
    ("adamw", "AdamW", {"lr": 0.05, "weight_decay": 0.1}),
    ("adamw_amsgrad", "AdamW", {"lr": 0.05, "weight_decay": 0.05, "amsgrad": True, "eps": 1e-6}),
    # The lr changes every step: the kernel must take it from the uniform each time.
    ("adam_exponential_lr", "Adam", {"lr": 0.1}),
]
OPTIMIZERS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}
CAMEL = {"weight_decay": "weightDecay"}

tensors = {"A": A, "b": b, "w1_0": w1_0, "w2_0": w2_0}
meta_cases = []
for cid, name, opts in CASES:
    w1 = w1_0.clone().requires_grad_(True)
    w2 = w2_0.clone().requires_grad_(True)
    opt = OPTIMIZERS[name]([w1, w2], **opts)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9) if cid == "adam_exponential_lr" else None
    traj = [flat(w1, w2)]
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(w1, w2).backward()
        opt.step()
        if sched:
            sched.step()
        traj.append(flat(w1, w2))
    tensors[f"{cid}/traj"] = torch.stack(traj)
    for i, p in enumerate([w1, w2]):
        for key, v in opt.state[p].items():
            if torch.is_tensor(v):
                tensors[f"{cid}/state/{i}/{key}"] = v.detach().float().reshape(p.shape if v.dim() else [])
    meta_cases.append({"id": cid, "optimizer": name, "options": {CAMEL.get(k, k): list(v) if isinstance(v, tuple) else v for k, v in opts.items()},
                       "exponentialLrGamma": 0.9 if sched else None})

# LR schedulers on a one-parameter SGD with lr 0.1.
SCHEDULERS = {
    "step": ("StepLR", {"step_size": 4, "gamma": 0.5}),
    "multistep": ("MultiStepLR", {"milestones": [3, 7, 12], "gamma": 0.3}),
    "exponential": ("ExponentialLR", {"gamma": 0.9}),
    "cosine": ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.01}),
    "linear_warmup": ("LinearLR", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 8}),
    "linear_decay": ("LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 10}),
    "constant": ("ConstantLR", {"factor": 0.5, "total_iters": 4}),
    "warmup_cosine": ("SequentialLR", {"schedulers": [("LinearLR", {"start_factor": 0.1, "total_iters": 5}),
                                                      ("CosineAnnealingLR", {"T_max": 15, "eta_min": 0.001})],
                                       "milestones": [5]}),
}
BASE_LR = 0.1


def make_scheduler(opt, kind, kw):
    cls = getattr(torch.optim.lr_scheduler, kind)
    if kind == "SequentialLR":
        subs = [getattr(torch.optim.lr_scheduler, k)(opt, **a) for k, a in kw["schedulers"]]
        return cls(opt, schedulers=subs, milestones=kw["milestones"])
    return cls(opt, **kw)


for name, (kind, kw) in SCHEDULERS.items():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE_LR)
    s = make_scheduler(opt, kind, kw)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(SCHED_STEPS):
        opt.step()
        s.step()
        lrs.append(opt.param_groups[0]["lr"])
    tensors[f"sched/{name}"] = torch.tensor(lrs, dtype=torch.float64)

# Adam under a GradScaler, with an inf injected into w2's gradient at two steps.
SCALER = {"init_scale": 2.0 ** 10, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 3}
SCALER_INF_STEPS = [2, 7]
SCALER_STEPS = 12
w1 = w1_0.clone().requires_grad_(True)
w2 = w2_0.clone().requires_grad_(True)
opt = torch.optim.Adam([w1, w2], lr=0.05)
scaler = torch.amp.GradScaler("cpu", **SCALER)
traj, scales = [flat(w1, w2)], []
for k in range(SCALER_STEPS):
    opt.zero_grad()
    scaler.scale(loss_of(w1, w2)).backward()
    if k in SCALER_INF_STEPS:
        with torch.no_grad():
            w2.grad[3] = math.inf
    scaler.step(opt)
    scaler.update()
    traj.append(flat(w1, w2))
    scales.append(scaler.get_scale())
tensors["scaler/traj"] = torch.stack(traj)
tensors["scaler/scale"] = torch.tensor(scales, dtype=torch.float32)
tensors["scaler/step"] = opt.state[w1]["step"].detach().float().reshape([])

meta = {
    "cases": json.dumps(meta_cases),
    "schedulers": json.dumps({k: {"kind": kind, "options": kw, "baseLr": BASE_LR} for k, (kind, kw) in SCHEDULERS.items()}),
    "scaler": json.dumps({"options": SCALER, "infSteps": SCALER_INF_STEPS, "steps": SCALER_STEPS, "adam": {"lr": 0.05}}),
    "steps": str(STEPS),
    "torch": torch.__version__,
}
save_file({k: v.contiguous() for k, v in tensors.items()}, "test/fixtures/optim.safetensors", metadata=meta)
print(f"wrote {len(meta_cases)} optimizer cases, {len(SCHEDULERS)} schedulers, scales {scales}")
