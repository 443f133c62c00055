#!/usr/bin/python3
"""Plain-PyTorch peer of samples/Benchmarks: the same ViT, methods and training step, written without the library.

Run with Debian's PyTorch (`/usr/bin/python3`, python3-torch 1.13 with libopenblas0-openmp). The C# benchmark
spawns this script once per configuration and reads the single JSON line it prints last.

  /usr/bin/python3 bench_peer.py train --model ti --mode vpt --batch 32 --warmup 3 --steps 10 --infer-steps 10
  /usr/bin/python3 bench_peer.py matmul --size 2048 --repeats 10
  /usr/bin/python3 bench_peer.py soak --model embedded --mode vpt --steps 1000 --probes 50,1000

What each side does per training step (mirrors ClassifierTrainer): take a shuffled uint8 batch, convert to float and
normalise, zero the gradients, forward, cross-entropy plus auxiliary losses, backward, AdamW step, read the loss and
the number of correct predictions. Attention is explicit (PyTorch 1.13 has no public fused attention). TCPA mirrors
the library's compute: every pool prompt of both roles is an extra key/value (norm1 + the frozen k/v rows of qkv),
a 0/1 visibility mask [B, 1, T, T+P] is multiplied into the attention weights after the softmax, tokens select
top-k pool entries by cosine similarity to learnable keys (random picks in the warm-up epochs), and a key-pull loss
is added.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------------------------
# Architecture (timm names and semantics: pre-norm blocks, fused qkv with bias, exact GELU, LayerNorm eps 1e-6)
# ----------------------------------------------------------------------------------------------------------------

CONFIGS = {
    # name: (image, patch, channels, width, depth, heads, classes, mean, std)
    "ti": (224, 16, 3, 192, 12, 3, 10, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "embedded": (28, 7, 1, 128, 6, 4, 10, (0.5,), (0.5,)),
}


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, extra=None, mask=None):
        b, t, d = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # [3, B, H, T, hd]
        q, k, v = qkv[0], qkv[1], qkv[2]
        if extra is not None:
            p = extra.shape[1]
            kv = F.linear(extra, self.qkv.weight[d:], self.qkv.bias[d:])  # [B or 1, P, 2D]
            kv = kv.expand(b, p, 2 * d).reshape(b, p, 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
            k = torch.cat([k, kv[0]], 2)
            v = torch.cat([v, kv[1]], 2)
        weights = torch.matmul(q * self.scale, k.transpose(-2, -1)).softmax(-1)  # [B, H, T, T+P]
        if mask is not None:
            weights = weights * mask  # post-softmax, not renormalised (TCPA's official behaviour)
        out = torch.matmul(weights, v)  # [B, H, T, hd]
        return self.proj(out.transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x, extra=None, mask=None):
        extra = self.norm1(extra) if extra is not None else None
        x = x + self.attn(self.norm1(x), extra, mask)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, channels, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, N, D]


class VisionTransformer(nn.Module):
    def __init__(self, image, patch, channels, dim, depth, heads):
        super().__init__()
        n = (image // patch) ** 2
        self.patch_embed = PatchEmbed(channels, dim, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + n, dim))
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def embed(self, x):
        patches = self.patch_embed(x)
        cls = self.cls_token.expand(patches.shape[0], -1, -1)
        return torch.cat([cls, patches], 1) + self.pos_embed  # [B, 1+N, D]


# ----------------------------------------------------------------------------------------------------------------
# Methods
# ----------------------------------------------------------------------------------------------------------------


class Prompted(nn.Module):
    """Frozen (or, for 'full', trained) backbone + method + linear head, with the library's defaults."""

    def __init__(self, backbone, mode, classes, channels, patch):
        super().__init__()
        self.backbone = backbone
        self.mode = mode
        dim, depth = backbone.cls_token.shape[-1], len(backbone.blocks)
        self.head = nn.Linear(dim, classes)
        nn.init.normal_(self.head.weight, 0, math.sqrt(2.0 / classes))
        nn.init.constant_(self.head.bias, -4.59511985013459)
        for p in backbone.parameters():
            p.requires_grad = mode == "full"
        self.epoch = 0
        if mode == "vpt":
            bound = math.sqrt(6.0 / (channels * patch * patch + dim))
            self.prompts = nn.Parameter(torch.empty(1, 10, dim).uniform_(-bound, bound))
            self.deep_prompts = nn.Parameter(torch.empty(depth - 1, 10, dim).uniform_(-bound, bound))
            self.dropout = 0.1
        elif mode == "tcpa":
            # Defaults of TcpaOptions: pools of 18 one-token entries per role and layer, top-10, pull 0.01,
            # random selection for the first 10 epochs, dropout 0.1.
            self.pool_size, self.top_k, self.pull_weight, self.random_epochs, self.dropout = 18, 10, 0.01, 10, 0.1
            self.cls_prompts = nn.Parameter(torch.empty(depth, 18, 1, dim).uniform_(-1, 1))
            self.cls_keys = nn.Parameter(torch.empty(depth, 18, dim).uniform_(-1, 1))
            self.img_prompts = nn.Parameter(torch.empty(depth, 18, 1, dim).uniform_(-1, 1))
            self.img_keys = nn.Parameter(torch.empty(depth, 18, dim).uniform_(-1, 1))

    def param_groups(self, weight_decay):
        groups = []
        if self.mode == "full":
            named = list(self.backbone.named_parameters())
            no_decay = lambda n, p: p.dim() <= 1 or n in ("cls_token", "pos_embed")
            groups.append({"params": [p for n, p in named if not no_decay(n, p)], "weight_decay": weight_decay})
            groups.append({"params": [p for n, p in named if no_decay(n, p)], "weight_decay": 0.0})
        method = [p for n, p in self.named_parameters() if not n.startswith(("backbone.", "head."))]
        if method:
            groups.append({"params": method, "weight_decay": weight_decay})
        groups.append({"params": [self.head.weight], "weight_decay": weight_decay})
        groups.append({"params": [self.head.bias], "weight_decay": 0.0})
        return groups

    def forward(self, x):
        bb = self.backbone
        tokens = bb.embed(x)
        b = tokens.shape[0]
        aux = None
        if self.mode == "vpt":
            tokens = torch.cat([tokens[:, :1], self._vpt(self.prompts, b), tokens[:, 1:]], 1)
        for layer, block in enumerate(bb.blocks):
            extra = mask = None
            if self.mode == "vpt" and layer >= 1:
                tokens = torch.cat([tokens[:, :1], self._vpt(self.deep_prompts[layer - 1].unsqueeze(0), b),
                                    tokens[:, 11:]], 1)
            elif self.mode == "tcpa":
                extra, mask, pull = self._tcpa(layer, tokens)
                aux = pull if aux is None else aux + pull
            tokens = block(tokens, extra, mask)
        tokens = bb.norm(tokens)
        logits = self.head(tokens[:, 0])
        return logits, (aux * self.pull_weight if aux is not None else None)

    def _vpt(self, prompts, b):
        batch = prompts.expand(b, -1, -1)
        return F.dropout(batch, self.dropout, training=True) if self.training else batch

    def _tcpa(self, layer, tokens):
        b, t, _ = tokens.shape
        prompts = torch.cat([self.cls_prompts[layer].reshape(18, -1), self.img_prompts[layer].reshape(18, -1)], 0)
        prompts = prompts.unsqueeze(0)  # [1, 36, D]
        if self.training and self.dropout > 0:
            prompts = F.dropout(prompts.expand(b, -1, -1), self.dropout, training=True)
        random = self.training and self.epoch < self.random_epochs
        cls_vis, d1 = self._select(self.cls_keys[layer], tokens[:, :1], random)  # [B, 1, 18]
        img_vis, d2 = self._select(self.img_keys[layer], tokens[:, 1:], random)  # [B, N, 18]
        dtype = tokens.dtype
        rows = [torch.cat([cls_vis, torch.zeros(b, 1, 18, dtype=dtype)], 2),
                torch.cat([torch.zeros(b, t - 1, 18, dtype=dtype), img_vis], 2)]
        pool_columns = torch.cat(rows, 1)  # [B, T, 36]
        mask = torch.cat([torch.ones(b, t, t, dtype=dtype), pool_columns], 2).unsqueeze(1)  # [B, 1, T, T+36]
        return prompts, mask, d1 + d2

    def _select(self, keys, rows, random):
        b, n, d = rows.shape
        queries = rows.reshape(b * n, d)
        sim = F.normalize(queries, dim=1).matmul(F.normalize(keys, dim=1).t())  # [M, K]
        if random:
            idx = torch.rand(sim.shape).argsort(1)[:, : self.top_k]
        else:
            idx = sim.topk(self.top_k, dim=1).indices
        distance = (1 - sim.gather(1, idx)).mean()
        visible = F.one_hot(idx, self.pool_size).sum(1).to(rows.dtype)  # [M, K]
        return visible.view(b, n, self.pool_size), distance


# ----------------------------------------------------------------------------------------------------------------
# Measurement helpers (same definitions as the C# side)
# ----------------------------------------------------------------------------------------------------------------


def cpu_sample(children=False):
    """(busy, total, steal) jiffies of the whole machine and this process's own jiffies (with `children`, also those
    of its children that have ended and been waited for, such as a DataLoader's workers after the epoch)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice, already inside user/nice]
    total = sum(fields[:8])
    busy = total - fields[3] - fields[4]
    steal = fields[7] if len(fields) > 7 else 0
    with open("/proc/self/stat") as f:
        stat = f.read()
    own_fields = stat[stat.rindex(")") + 2:].split()
    own = int(own_fields[11]) + int(own_fields[12])  # utime, stime
    if children:
        own += int(own_fields[13]) + int(own_fields[14])  # cutime, cstime
    return busy, total, steal, own


def cpu_share(start, end):
    busy, total, steal, own = (e - s for s, e in zip(start, end))
    if total <= 0:
        return 0.0, 0.0
    foreign = max(0.0, (busy - own) / total * 100.0)
    return foreign, steal / total * 100.0


def status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def make_model(name, mode, seed):
    image, patch, channels, dim, depth, heads, classes, mean, std = CONFIGS[name]
    torch.manual_seed(seed)
    backbone = VisionTransformer(image, patch, channels, dim, depth, heads)
    model = Prompted(backbone, mode, classes, channels, patch)
    mean_t = torch.tensor(mean).view(1, -1, 1, 1)
    std_t = torch.tensor(std).view(1, -1, 1, 1)
    return model, (image, channels, classes), mean_t, std_t


def make_data(count, image, channels, classes, seed):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (count, channels, image, image), dtype=torch.uint8, generator=g)
    labels = torch.arange(count) % classes
    return images, labels


def compute_precision(bf16):
    """The forward's precision context: CPU autocast to bfloat16 (what a PyTorch user writes), or nothing."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def train_steps(model, images, labels, mean, std, batch, steps, on_step=None, bf16=False):
    """Runs `steps` training steps over one shuffled epoch (reshuffled when exhausted); returns per-step seconds."""
    optimizer = torch.optim.AdamW(model.param_groups(0.01), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    model.train()
    per_epoch = images.shape[0] // batch
    times = []
    order = None
    for step in range(steps):
        if step % per_epoch == 0:
            model.epoch = step // per_epoch
            order = torch.randperm(images.shape[0])
        started = time.perf_counter()
        idx = order[(step % per_epoch) * batch:(step % per_epoch + 1) * batch]
        x = ((images.index_select(0, idx).float() / 255.0) - mean) / std
        y = labels.index_select(0, idx)
        optimizer.zero_grad()
        with compute_precision(bf16):
            logits, aux = model(x)
        logits = logits.float()
        aux = aux.float() if aux is not None else None
        loss = F.cross_entropy(logits, y)
        if aux is not None:
            loss = loss + aux
        loss.backward()
        optimizer.step()
        loss.item()
        (logits.argmax(1) == y).sum().item()
        times.append(time.perf_counter() - started)
        if on_step is not None:
            on_step(step + 1)
    return times


def run_train(args):
    torch.set_num_threads(args.threads)
    model, (image, channels, classes), mean, std = make_model(args.model, args.mode, args.seed)
    total = args.warmup + args.steps
    images, labels = make_data(total * args.batch, image, channels, classes, args.seed)
    rss_start = status_mb("VmRSS")
    before = cpu_sample()
    started = time.perf_counter()
    times = train_steps(model, images, labels, mean, std, args.batch, total, bf16=args.bf16)
    train_wall = time.perf_counter() - started
    train_cpu = cpu_sample()
    train_hwm = status_mb("VmHWM")

    model.eval()
    infer = []
    with torch.no_grad():
        for i in range(args.infer_warmup + args.infer_steps):
            start = (i * args.batch) % images.shape[0]
            t0 = time.perf_counter()
            x = ((images[start:start + args.batch].float() / 255.0) - mean) / std
            with compute_precision(args.bf16):
                logits, _ = model(x)
            F.softmax(logits.float(), 1)
            if i >= args.infer_warmup:
                infer.append(time.perf_counter() - t0)
    after = cpu_sample()
    foreign_train, steal_train = cpu_share(before, train_cpu)
    foreign_all, steal_all = cpu_share(before, after)
    foreign_infer, steal_infer = cpu_share(train_cpu, after)
    timed = times[args.warmup:]
    result = {
        "side": "peer",
        "variant": "bf16" if args.bf16 else "default",
        "model": args.model,
        "mode": args.mode,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "step_ms_median": statistics.median(timed) * 1000.0,
        "step_ms_all": [round(t * 1000.0, 2) for t in times],
        "infer_batch_ms_median": statistics.median(infer) * 1000.0,
        "rss_start_mb": rss_start,
        "train_hwm_mb": train_hwm,
        "hwm_mb": status_mb("VmHWM"),
        "foreign_pct_train": foreign_train,
        "steal_pct_train": steal_train,
        "foreign_pct_infer": foreign_infer,
        "steal_pct_infer": steal_infer,
        "foreign_pct": foreign_all,
        "steal_pct": steal_all,
        "train_wall_s": train_wall,
        "trainable": sum(p.numel() for g in model.param_groups(0.0) for p in g["params"]),
        "torch": torch.__version__,
    }
    print(json.dumps(result))


def run_soak(args):
    torch.set_num_threads(args.threads)
    model, (image, channels, classes), mean, std = make_model(args.model, args.mode, args.seed)
    images, labels = make_data(10 * args.batch, image, channels, classes, args.seed)
    probes = sorted(int(p) for p in args.probes.split(","))
    rss = {}

    def on_step(step):
        if step in probes:
            rss[str(step)] = status_mb("VmRSS")

    before = cpu_sample()
    started = time.perf_counter()
    train_steps(model, images, labels, mean, std, args.batch, max(probes), on_step)
    wall = time.perf_counter() - started
    foreign, steal = cpu_share(before, cpu_sample())
    print(json.dumps({
        "side": "peer", "model": args.model, "mode": args.mode, "rss_mb": rss, "hwm_mb": status_mb("VmHWM"),
        "ms_per_step": wall / max(probes) * 1000.0, "foreign_pct": foreign, "steal_pct": steal,
        "allocator": "pymalloc/glibc",
    }))


def run_matmul(args):
    torch.set_num_threads(args.threads)
    n = args.size
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        torch.matmul(a, b)
    before = cpu_sample()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - t0)
    foreign, steal = cpu_share(before, cpu_sample())
    flops = 2.0 * n ** 3
    print(json.dumps({
        "side": "peer", "size": n, "threads": torch.get_num_threads(),
        "gflops_best": flops / min(times) / 1e9, "gflops_median": flops / statistics.median(times) / 1e9,
        "foreign_pct": foreign, "steal_pct": steal, "torch": torch.__version__,
    }))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("train", "soak"):
        p = sub.add_parser(name)
        p.add_argument("--model", choices=sorted(CONFIGS), default="embedded")
        p.add_argument("--mode", choices=["linear", "vpt", "tcpa", "full"], default="vpt")
        p.add_argument("--batch", type=int, default=32)
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--seed", type=int, default=0)
        if name == "train":
            p.add_argument("--warmup", type=int, default=3)
            p.add_argument("--steps", type=int, default=10)
            p.add_argument("--infer-warmup", type=int, default=2)
            p.add_argument("--infer-steps", type=int, default=10)
            p.add_argument("--bf16", action="store_true",
                           help="forward under torch.autocast('cpu', dtype=torch.bfloat16)")
        else:
            p.add_argument("--probes", default="50,1000")
    m = sub.add_parser("matmul")
    m.add_argument("--size", type=int, default=2048)
    m.add_argument("--repeats", type=int, default=10)
    m.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    {"train": run_train, "soak": run_soak, "matmul": run_matmul}[args.command](args)


if __name__ == "__main__":
    main(sys.argv[1:])
