"""Train the image EBM of webgpu-ebm in PyTorch, on one GPU or many, and sample it in webgpu-ebm.

The recipe is webgpu-ebm's (src/train/image-defaults.ts, same numbers by default): the seed's
ConvEnergyModel on images in [-1, 1]; persistent contrastive divergence with a replay buffer
(10,000 chains, 5% restarted from uniform noise each step); short-run Langevin
x <- clamp(x - h dE/dx + noise_std * eps, -1, 1); the loss mean E(x+) - mean E(x-) +
alpha (mean E(x+)^2 + mean E(x-)^2); gradients clipped to a global norm; Adam with betas (0, 0.999).

    python train_image_ebm.py --out runs/mnist                        # one GPU (or the CPU)
    torchrun --nproc_per_node 8 train_image_ebm.py --out runs/mnist   # DistributedDataParallel

Each process keeps its own replay buffer (buffer_size / world size rows) and draws its own
batches; DDP averages the gradients. Rank 0 writes <out>/model.safetensors with the state-dict
names and the metadata webgpu-ebm reads (src/nn/checkpoint-model.ts), so

    webgpu-ebm sample --checkpoint runs/mnist/model.safetensors --out digits.png

and the demo's Load button take it as it is. Data: MNIST from webgpu-ebm's digits asset
(demo/assets/mnist-digits.bin, read here with gzip; the same 9,001 training digits as loadMnist
up to order), or your own [N, C, H, W] images in a .npy file (uint8, or float in [-1, 1]).
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import save_file

from models import ACTIVATIONS, ConvEnergyModel

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ASSET = os.path.join(HERE, "..", "..", "demo", "assets", "mnist-digits.bin")


def read_mnist_asset(path: str) -> tuple:
    """The asset's digits: uint8 images [N, 1, 28, 28] and labels [N] (layout: src/train/datasets/mnist-asset.ts)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:8] != b"EBMMNIST":
        raise SystemExit(f"{path} is not webgpu-ebm's MNIST asset")
    _version, count, rows, cols = struct.unpack("<4I", raw[8:24])
    labels = np.frombuffer(raw, np.uint8, count, 24)
    pixels = np.frombuffer(raw, np.uint8, count * rows * cols, 24 + count).reshape(count, 1, rows, cols)
    return pixels, labels


def load_images(args) -> torch.Tensor:
    """Training images as float32 [N, C, S, S] in [-1, 1]."""
    if args.data == "mnist":
        pixels, labels = read_mnist_asset(args.mnist_asset)
        # Hold out 10% per class (as webgpu-ebm does); which 10% differs, which only matters for held-out figures.
        keep = np.ones(len(labels), bool)
        rng = np.random.default_rng(0)
        for c in range(10):
            rows = np.flatnonzero(labels == c)
            keep[rng.permutation(rows)[: round(0.1 * len(rows))]] = False
        x = pixels[keep]
    else:
        x = np.load(args.data)
        if x.ndim != 4:
            raise SystemExit(f"{args.data}: expected [N, C, H, W] images, got shape {x.shape}")
    if x.dtype == np.uint8:
        return torch.from_numpy(x.astype(np.float32) / 127.5 - 1)
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if x.min() < -1 or x.max() > 1:
        raise SystemExit(f"{args.data}: float images must lie in [-1, 1]")
    return x


def langevin(model, x, steps, step_size, noise_std):
    """Short-run Langevin from x, clamped to [-1, 1]; no gradient reaches the model's parameters."""
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        grad = torch.autograd.grad(model(x).sum(), x)[0]
        x = (x - step_size * grad + noise_std * torch.randn_like(x)).clamp(-1, 1)
    return x.detach()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="mnist", help="'mnist' or a .npy file of [N, C, H, W] images")
    p.add_argument("--mnist-asset", default=DEFAULT_ASSET)
    p.add_argument("--channels", default="16,32")
    p.add_argument("--kernel-size", type=int, default=3)
    p.add_argument("--activation", default="silu", choices=sorted(ACTIVATIONS))
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--langevin-steps", type=int, default=20)
    p.add_argument("--step-size", type=float, default=10.0)
    p.add_argument("--noise-std", type=float, default=0.005)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--alpha", type=float, default=0.1, help="energy regulariser weight")
    p.add_argument("--max-grad-norm", type=float, default=0.1)
    p.add_argument("--buffer-size", type=int, default=10000, help="in all, split over the processes")
    p.add_argument("--restart", type=float, default=0.05, help="fraction of chains restarted from noise per step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--reference", action="store_true", help="also write reference.safetensors: images and their energies")
    p.add_argument("--save-buffer", type=int, default=0, metavar="N", help="also write buffer.safetensors: N replay-buffer chains as 'images' (webgpu-ebm's loadImages reads it)")
    args = p.parse_args()

    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", 0))
        device = torch.device("cuda", local) if torch.cuda.is_available() else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
    else:
        rank, world = 0, 1
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # The same initial weights on every rank (DDP also broadcasts them); different chains and batches.
    torch.manual_seed(args.seed)
    data = load_images(args)
    n, c, s, _ = data.shape
    channels = [int(v) for v in args.channels.split(",")]
    model = ConvEnergyModel(c, s, channels, args.kernel_size, ACTIVATIONS[args.activation]()).to(device)
    torch.manual_seed(args.seed * 1000 + rank + 1)
    data = data.to(device)
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.0, 0.999))
    size = max(args.batch_size, args.buffer_size // world)
    buffer = torch.rand(size, c, s, s, device=device) * 2 - 1
    b = args.batch_size
    fresh = round(args.restart * b)
    for step in range(1, args.steps + 1):
        idx = torch.randperm(size, device=device)[:b]
        start = buffer[idx]
        start[:fresh] = torch.rand(fresh, c, s, s, device=device) * 2 - 1
        # Sampling through the bare module: no DDP gradient sync for the chains.
        neg = langevin(model, start, args.langevin_steps, args.step_size, args.noise_std)
        buffer[idx] = neg
        pos = data[torch.randint(0, n, (b,), device=device)]
        e = net(torch.cat([pos, neg]))
        e_pos, e_neg = e[:b], e[b:]
        loss = e_pos.mean() - e_neg.mean() + args.alpha * ((e_pos**2).mean() + (e_neg**2).mean())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        opt.step()
        if rank == 0 and (step % 100 == 0 or step == args.steps):
            print(f"step {step}: loss {loss.item():.4f}, E(data) {e_pos.mean().item():.4f}, E(neg) {e_neg.mean().item():.4f}", flush=True)

    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        config = {"inputChannels": c, "imageSize": s, "channels": channels, "kernelSize": args.kernel_size, "activation": args.activation}
        metadata = {
            "webgpu-ebm.kind": "model",
            "webgpu-ebm.model": "ConvEnergyModel",
            "webgpu-ebm.config": json.dumps(config),
            "webgpu-ebm.step": str(args.steps),
            "webgpu-ebm.dataset": args.data if args.data == "mnist" else os.path.basename(args.data),
            "webgpu-ebm.source": "pytorch",
        }
        save_file(state, os.path.join(args.out, "model.safetensors"), metadata=metadata)
        print(f"wrote {os.path.join(args.out, 'model.safetensors')}")
        if args.save_buffer:
            rows = buffer[: args.save_buffer].detach().cpu().contiguous()
            save_file({"images": rows}, os.path.join(args.out, "buffer.safetensors"))
            print(f"wrote {os.path.join(args.out, 'buffer.safetensors')}: {rows.shape[0]} chains")
        if args.reference:
            # Training digits, the last step's chains and uniform noise, with PyTorch's energies (CPU, f32).
            gen = torch.Generator().manual_seed(12345)
            images = torch.cat([data[:4].cpu(), neg[:2].cpu(), torch.rand(2, c, s, s, generator=gen) * 2 - 1])
            cpu = model.cpu().eval()
            with torch.no_grad():
                energies = cpu(images)
            save_file({"images": images.contiguous(), "energies": energies.contiguous()}, os.path.join(args.out, "reference.safetensors"))
            print(f"wrote {os.path.join(args.out, 'reference.safetensors')}: energies {energies.tolist()}")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
