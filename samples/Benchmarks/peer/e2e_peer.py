#!/usr/bin/python3
"""End-to-end peer of the e2e command: one epoch of training from an image folder, written as a PyTorch user writes it.

Run with Debian's PyTorch (`/usr/bin/python3`, python3-torch 1.13 with libopenblas0-openmp, python3-pil). The C#
benchmark spawns it once per measurement and reads the single JSON line it prints last.

  /usr/bin/python3 e2e_peer.py --data /tmp/promptvit-e2e/fashion224-1000 --model tiny224 --threads 2 --workers 1
  /usr/bin/python3 e2e_peer.py --kind model --images 1000 --model tiny224 --threads 2

--kind fit (tiny224) or data (null224): a Dataset over the class folders (PIL: open, convert("RGB"), bicubic resize
to 224 as the library's preprocessing does for these backbones, to a float tensor in [0, 1], ImageNet normalisation),
a DataLoader(batch_size, shuffle=True, num_workers), and one epoch of AdamW (lr 1e-3, weight decay 0.01, cosine over
the epoch's steps) on bench_peer.py's model with VPT-Deep P=10. The time runs from building the Dataset (which lists
the folders) to the end of the epoch; model construction is outside it, as on our side.
--kind model: the same model's training steps alone on random uint8 images already in memory (bench_peer.py's loop).
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_peer  # noqa: E402  (the model, the in-memory training loop and the /proc readers)

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# The backbones of the scale and e2e commands (ScaleBenchmark.Model): ViT-Ti's width at 224 with 2 blocks, and one
# 224x224 patch with one block of width 16, whose compute is negligible.
bench_peer.CONFIGS.update({
    "tiny224": (224, 16, 3, 192, 2, 3, 10, IMAGENET_MEAN, IMAGENET_STD),
    "null224": (224, 224, 3, 16, 1, 1, 10, IMAGENET_MEAN, IMAGENET_STD),
})


class ImageFolderDataset(Dataset):
    """Images in one folder per class (sorted class names give the labels), loaded with PIL."""

    def __init__(self, root, size, mean, std):
        self.classes = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
        if not self.classes:
            raise SystemExit(f"{root} has no class folders; write it with the e2e command.")
        self.samples = [(os.path.join(root, name, file), label)
                        for label, name in enumerate(self.classes)
                        for file in sorted(os.listdir(os.path.join(root, name)))]
        self.size = size
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        with Image.open(path) as image:
            image = image.convert("RGB").resize((self.size, self.size), Image.BICUBIC)
        x = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float().div(255)
        return (x - self.mean) / self.std, label


def train_from_folder(args, model, image):
    dataset = ImageFolderDataset(args.data, image, IMAGENET_MEAN, IMAGENET_STD)
    loader = DataLoader(dataset, batch_size=args.batch, shuffle=True, num_workers=args.workers)
    optimizer = torch.optim.AdamW(model.param_groups(0.01), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=len(loader))
    model.train()
    seen = correct = 0
    total_loss = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        logits, _ = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    return seen


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", choices=["fit", "data", "model"], default="fit")
    parser.add_argument("--data", help="the image folder (fit, data)")
    parser.add_argument("--images", type=int, default=1000, help="in-memory images (model)")
    parser.add_argument("--model", choices=["tiny224", "null224"], default="tiny224")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.kind != "model" and not args.data:
        parser.error("--data is required for fit and data")

    torch.set_num_threads(args.threads)
    model, (image, channels, classes), mean, std = bench_peer.make_model(args.model, "vpt", args.seed)
    if args.kind == "model":
        images, labels = bench_peer.make_data(args.images, image, channels, classes, args.seed)
    before, times, started = bench_peer.cpu_sample(children=True), os.times(), time.perf_counter()
    if args.kind == "model":
        steps = args.images // args.batch
        bench_peer.train_steps(model, images, labels, mean, std, args.batch, steps)
        seen = steps * args.batch
    else:
        seen = train_from_folder(args, model, image)
    seconds = time.perf_counter() - started
    ended = os.times()
    foreign, steal = bench_peer.cpu_share(before, bench_peer.cpu_sample(children=True))
    cpu = sum(e - s for s, e in zip(times[:4], ended[:4]))  # user, system, children's user and system
    workers = args.workers if args.kind != "model" else 0
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0 if workers else None
    print(json.dumps({
        "side": "peer", "kind": args.kind,
        "data": os.path.basename(os.path.normpath(args.data)) if args.kind != "model" else "random, in memory",
        "model": args.model, "images": seen, "cache_mb": 0, "seconds": seconds, "images_per_second": seen / seconds,
        "cpu_seconds": cpu, "peak_rss_mb": bench_peer.status_mb("VmHWM"), "worker_peak_rss_mb": worker_peak,
        "decoders": workers, "threads": torch.get_num_threads(), "foreign_pct": foreign, "steal_pct": steal,
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
