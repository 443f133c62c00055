#!/usr/bin/python3
"""Writes the checkpoint parity fixtures in this folder.

Run with Debian's interpreter (python3-torch 1.13, numpy):  /usr/bin/python3 make_fixtures.py
It needs nothing else: safetensors bytes are written by hand below, npz files with numpy.

A tiny ViT with timm's semantics (pre-norm blocks, fused qkv with bias, exact GELU, LayerNorm eps 1e-6, class token,
learned position embedding, final norm, class-token pooling; plus the average-pooling/fc_norm variant) is built with a
fixed seed, saved in every supported layout, and run on a fixed input batch to produce the reference outputs.
"""
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
D, DEPTH, HEADS, PATCH, IMAGE, CLASSES, MLP = 16, 2, 2, 4, 16, 5, 64
EPS = 1e-6


# ----------------------------------------------------------------------------------------------- the reference model
class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact erf
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, channels, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, N, D], row-major over the grid


class TinyViT(nn.Module):
    """timm VisionTransformer semantics. pool='token' uses norm then CLS; pool='avg' uses mean(patches) then fc_norm."""

    def __init__(self, channels=3, pool="token"):
        super().__init__()
        grid = IMAGE // PATCH
        self.pool = pool
        self.patch_embed = PatchEmbed(channels, D, PATCH)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, D))
        self.blocks = nn.ModuleList([Block(D, HEADS, MLP) for _ in range(DEPTH)])
        if pool == "token":
            self.norm = nn.LayerNorm(D, eps=EPS)
        else:
            self.fc_norm = nn.LayerNorm(D, eps=EPS)
        self.head = nn.Linear(D, CLASSES)

    def forward_features(self, x):
        x = self.patch_embed(x)  # [B, N, D]
        pos = self.pos_embed
        if pos.shape[1] != 1 + x.shape[1]:
            side = int(round(x.shape[1] ** 0.5))
            pos = resample_pos_embed(pos, new_grid=(side, side))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + pos
        for block in self.blocks:
            x = block(x)
        if self.pool == "token":
            return self.norm(x)[:, 0]
        return self.fc_norm(x[:, 1:].mean(dim=1))

    def forward(self, x):
        return self.head(self.forward_features(x))


def resample_pos_embed(pos, new_grid):
    """timm's resample_abs_pos_embed: keep the CLS row, bicubic with antialias over the square grid."""
    prefix, grid = pos[:, :1], pos[:, 1:]
    old = int(round(grid.shape[1] ** 0.5))
    grid = grid.reshape(1, old, old, -1).permute(0, 3, 1, 2)  # [1, D, g, g]
    grid = F.interpolate(grid, size=new_grid, mode="bicubic", antialias=True, align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, pos.shape[-1])
    return torch.cat([prefix, grid], dim=1)


def randomise(model, seed):
    """Large, varied values so that eps, GELU, head order or patch order mistakes show up well above 1e-5."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name in ("cls_token", "pos_embed"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[1] if p.dim() == 2 else (p[0].numel() if p.dim() == 4 else 4)
                p.copy_(torch.randn(p.shape, generator=g) * (1.5 / fan_in ** 0.5))
    return model.eval()


# -------------------------------------------------------------------------------------------------------- writers
ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
             torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save_safetensors(name, tensors, metadata=None):
    """The safetensors layout: u64 LE header length, JSON header padded with spaces to a multiple of 8, raw LE data."""
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for key, t in tensors.items():
        data = tensor_bytes(t)
        header[key] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def save_npy(name, array):
    np.save(os.path.join(HERE, name), np.ascontiguousarray(array, dtype=np.float32))


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------------------------------------------- layouts
def to_hf(sd, prefix="vit.", with_classifier=True, with_pooler=False):
    out = {
        prefix + "embeddings.cls_token": sd["cls_token"],
        prefix + "embeddings.position_embeddings": sd["pos_embed"],
        prefix + "embeddings.patch_embeddings.projection.weight": sd["patch_embed.proj.weight"],
        prefix + "embeddings.patch_embeddings.projection.bias": sd["patch_embed.proj.bias"],
    }
    for i in range(DEPTH):
        b, h = f"blocks.{i}.", f"{prefix}encoder.layer.{i}."
        qw, kw, vw = sd[b + "attn.qkv.weight"].chunk(3, dim=0)
        qb, kb, vb = sd[b + "attn.qkv.bias"].chunk(3, dim=0)
        out.update({
            h + "attention.attention.query.weight": qw, h + "attention.attention.query.bias": qb,
            h + "attention.attention.key.weight": kw, h + "attention.attention.key.bias": kb,
            h + "attention.attention.value.weight": vw, h + "attention.attention.value.bias": vb,
            h + "attention.output.dense.weight": sd[b + "attn.proj.weight"],
            h + "attention.output.dense.bias": sd[b + "attn.proj.bias"],
            h + "layernorm_before.weight": sd[b + "norm1.weight"], h + "layernorm_before.bias": sd[b + "norm1.bias"],
            h + "layernorm_after.weight": sd[b + "norm2.weight"], h + "layernorm_after.bias": sd[b + "norm2.bias"],
            h + "intermediate.dense.weight": sd[b + "mlp.fc1.weight"], h + "intermediate.dense.bias": sd[b + "mlp.fc1.bias"],
            h + "output.dense.weight": sd[b + "mlp.fc2.weight"], h + "output.dense.bias": sd[b + "mlp.fc2.bias"],
        })
    out[prefix + "layernorm.weight"] = sd["norm.weight"]
    out[prefix + "layernorm.bias"] = sd["norm.bias"]
    if with_pooler:
        g = torch.Generator().manual_seed(7)
        out[prefix + "pooler.dense.weight"] = torch.randn(D, D, generator=g)
        out[prefix + "pooler.dense.bias"] = torch.randn(D, generator=g)
    if with_classifier:
        out["classifier.weight"] = sd["head.weight"]
        out["classifier.bias"] = sd["head.bias"]
    return {k: v.contiguous() for k, v in out.items()}


def to_jax(sd, original_in21k=False):
    """Google's ViT npz layout (as read by timm's _load_weights): HWIO conv, [in, out] dense, per-head q/k/v."""
    hd = D // HEADS
    n = lambda t: t.detach().numpy().astype(np.float32)
    out = {
        "embedding/kernel": n(sd["patch_embed.proj.weight"].permute(2, 3, 1, 0)),
        "embedding/bias": n(sd["patch_embed.proj.bias"]),
        "cls": n(sd["cls_token"]),
        "Transformer/posembed_input/pos_embedding": n(sd["pos_embed"]),
        "Transformer/encoder_norm/scale": n(sd["norm.weight"]),
        "Transformer/encoder_norm/bias": n(sd["norm.bias"]),
    }
    for i in range(DEPTH):
        b, j = f"blocks.{i}.", f"Transformer/encoderblock_{i}/"
        a = j + "MultiHeadDotProductAttention_1/"
        qkv_w, qkv_b = sd[b + "attn.qkv.weight"], sd[b + "attn.qkv.bias"]
        for part, name in enumerate(("query", "key", "value")):
            w = qkv_w[part * D:(part + 1) * D]  # [out, in]
            out[a + name + "/kernel"] = n(w.t().reshape(D, HEADS, hd))
            out[a + name + "/bias"] = n(qkv_b[part * D:(part + 1) * D].reshape(HEADS, hd))
        out[a + "out/kernel"] = n(sd[b + "attn.proj.weight"].t().reshape(HEADS, hd, D))
        out[a + "out/bias"] = n(sd[b + "attn.proj.bias"])
        out[j + "LayerNorm_0/scale"] = n(sd[b + "norm1.weight"])
        out[j + "LayerNorm_0/bias"] = n(sd[b + "norm1.bias"])
        out[j + "LayerNorm_2/scale"] = n(sd[b + "norm2.weight"])
        out[j + "LayerNorm_2/bias"] = n(sd[b + "norm2.bias"])
        out[j + "MlpBlock_3/Dense_0/kernel"] = n(sd[b + "mlp.fc1.weight"].t())
        out[j + "MlpBlock_3/Dense_0/bias"] = n(sd[b + "mlp.fc1.bias"])
        out[j + "MlpBlock_3/Dense_1/kernel"] = n(sd[b + "mlp.fc2.weight"].t())
        out[j + "MlpBlock_3/Dense_1/bias"] = n(sd[b + "mlp.fc2.bias"])
    if original_in21k:
        # The original ImageNet-21k release: a pre-logits layer and a zeroed head.
        g = torch.Generator().manual_seed(11)
        out["pre_logits/kernel"] = n(torch.randn(D, D, generator=g))
        out["pre_logits/bias"] = n(torch.randn(D, generator=g))
        out["head/kernel"] = np.zeros((D, CLASSES), np.float32)
        out["head/bias"] = np.zeros((CLASSES,), np.float32)
    else:
        out["head/kernel"] = n(sd["head.weight"].t())
        out["head/bias"] = n(sd["head.bias"])
    return out


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    vit = randomise(TinyViT(3, "token"), seed=1234)
    sd = state(vit)
    backbone = {k: v for k, v in sd.items() if not k.startswith("head.")}

    x = torch.randn(2, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(99))
    save_npy("input.npy", x)
    with torch.no_grad():
        feats = vit.forward_features(x)
        save_npy("ref_features.npy", feats)
        save_npy("ref_logits.npy", vit.head(feats))

    # timm: the hub layout (F32, __metadata__ {"format": "pt"}), with the classifier head.
    save_safetensors("vit_timm.safetensors", sd, {"format": "pt"})

    # timm with mixed storage dtypes; the reference runs on the same rounded weights in float32.
    mixed, rounded = {}, {}
    for k, v in sd.items():
        dtype = torch.float16 if k.startswith("blocks.0.") else torch.bfloat16 if k.startswith("blocks.1.") \
            else torch.float64 if k.startswith("norm.") else torch.float32
        mixed[k] = v.to(dtype)
        rounded[k] = mixed[k].to(torch.float32)
    save_safetensors("vit_timm_mixed_dtypes.safetensors", mixed)
    vit_rounded = TinyViT(3, "token").eval()
    vit_rounded.load_state_dict(rounded)
    with torch.no_grad():
        f = vit_rounded.forward_features(x)
        save_npy("ref_mixed_features.npy", f)
        save_npy("ref_mixed_logits.npy", vit_rounded.head(f))

    # Hugging Face transformers: ViTForImageClassification ("vit." + classifier) and a bare ViTModel with a pooler.
    save_safetensors("vit_hf.safetensors", to_hf(sd), {"format": "pt"})
    save_safetensors("vit_hf_model.safetensors", to_hf(sd, prefix="", with_classifier=False, with_pooler=True),
                     {"format": "pt"})

    # Google JAX npz: augreg-like (trained head) stored; original in21k (pre_logits, zero head) deflated.
    np.savez(os.path.join(HERE, "vit_jax.npz"), **to_jax(sd))
    np.savez_compressed(os.path.join(HERE, "vit_jax_in21k_compressed.npz"), **to_jax(sd, original_in21k=True))

    # MoCo v3: linear-probe layout ("module." + a classifier head) and the pretraining layout
    # ("module.base_encoder." with a projector MLP + BatchNorm, a few momentum-encoder and predictor entries).
    save_safetensors("vit_mocov3_linear.safetensors", {"module." + k: v for k, v in sd.items()})
    g = torch.Generator().manual_seed(5)
    pretrain = {"module.base_encoder." + k: v for k, v in backbone.items()}
    pretrain.update({
        "module.base_encoder.head.0.weight": torch.randn(8, D, generator=g),
        "module.base_encoder.head.1.weight": torch.ones(8),
        "module.base_encoder.head.1.bias": torch.zeros(8),
        "module.base_encoder.head.1.running_mean": torch.zeros(8),
        "module.base_encoder.head.1.running_var": torch.ones(8),
        "module.base_encoder.head.1.num_batches_tracked": torch.tensor(100, dtype=torch.int64),
        "module.momentum_encoder.cls_token": torch.randn(1, 1, D, generator=g),
        "module.momentum_encoder.norm.weight": torch.randn(D, generator=g),
        "module.predictor.0.weight": torch.randn(8, 8, generator=g),
    })
    save_safetensors("vit_mocov3_pretrain.safetensors", pretrain)

    # MAE: timm keys, no head, plus the MAE-only mask token and a decoder entry; average pooling.
    mae = dict(backbone)
    mae["mask_token"] = torch.zeros(1, 1, D)
    mae["decoder_norm.weight"] = torch.ones(8)
    save_safetensors("vit_mae.safetensors", mae, {"format": "pt"})
    for convention, name in (("pretrained_norm", "ref_mae_norm_features.npy"), ("fresh", "ref_mae_fresh_features.npy")):
        avg = TinyViT(3, "avg").eval()
        weights = {k: v for k, v in backbone.items() if not k.startswith("norm.")}
        if convention == "pretrained_norm":
            weights["fc_norm.weight"], weights["fc_norm.bias"] = sd["norm.weight"], sd["norm.bias"]
        else:
            weights["fc_norm.weight"], weights["fc_norm.bias"] = torch.ones(D), torch.zeros(D)
        weights["head.weight"], weights["head.bias"] = sd["head.weight"], sd["head.bias"]
        avg.load_state_dict(weights)
        with torch.no_grad():
            save_npy(name, avg.forward_features(x))

    # Another input size: 24x24 images (6x6 grid) from the 4x4-grid checkpoint; pos_embed resampled like timm.
    x24 = torch.randn(2, 3, 24, 24, generator=torch.Generator().manual_seed(98))
    save_npy("input_24.npy", x24)
    with torch.no_grad():
        f = vit.forward_features(x24)
        save_npy("ref_24_features.npy", f)
        save_npy("ref_24_logits.npy", vit.head(f))

    # A 1-channel model of its own.
    gray = randomise(TinyViT(1, "token"), seed=4321)
    save_safetensors("vit_gray_timm.safetensors", state(gray), {"format": "pt"})
    xg = torch.randn(2, 1, IMAGE, IMAGE, generator=torch.Generator().manual_seed(97))
    save_npy("input_gray.npy", xg)
    with torch.no_grad():
        f = gray.forward_features(xg)
        save_npy("ref_gray_features.npy", f)
        save_npy("ref_gray_logits.npy", gray.head(f))

    # torch.save files, only to test that they are refused (never unpickled): the zip format and the legacy pickle.
    small = {"model": {"cls_token": sd["cls_token"], "pos_embed": sd["pos_embed"]}}
    torch.save(small, os.path.join(HERE, "refuse_zip.pth"))
    torch.save(small, os.path.join(HERE, "refuse_legacy.pth.tar"), _use_new_zipfile_serialization=False)

    save_pth_fixtures(sd, backbone, mae)

    # .npy reader cases.
    base = np.arange(6).reshape(2, 3)
    np.savez(os.path.join(HERE, "npy_dtypes.npz"), f4=base.astype("<f4") / 4, f8=base.astype("<f8") / 8,
             f2=base.astype("<f2") / 2, i8=base.astype("<i8") - 3, i4=base.astype("<i4") - 2,
             u1=base.astype("|u1") + 250, b1=(base % 2 == 0), scalar=np.array(2.5, "<f4"))
    values = np.arange(24, dtype="<f4").reshape(2, 3, 4)
    np.save(os.path.join(HERE, "npy_fortran.npy"), np.asfortranarray(values))
    np.save(os.path.join(HERE, "npy_bigendian.npy"), values.astype(">f4"))
    for version in ((2, 0), (3, 0)):
        with open(os.path.join(HERE, f"npy_v{version[0]}.npy"), "wb") as f:
            np.lib.format.write_array(f, values, version=version)


# --------------------------------------------------------------------------- torch.save files for the opt-in reader
PICKLE_MARKER = "/tmp/mlnet-prompttuning-pickle-ran.marker"


class _Call:
    """An object whose pickle calls fn(arg) on load: what a hostile checkpoint does (never run by the reader)."""

    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return self.fn, (self.arg,)


def save_pth_fixtures(sd, backbone, mae):
    """torch.save checkpoints (zip format, torch 1.13) read with CheckpointLoadOptions.AllowPyTorchPickles."""
    pth = lambda name: os.path.join(HERE, name)
    # A flat timm state dict, as torch.save(model.state_dict()) writes it (an OrderedDict with _metadata).
    flat = TinyViT(3, "token")
    flat.load_state_dict(sd)
    torch.save(flat.state_dict(), pth("vit_timm.pth"))
    # MAE's release layout: {"model": state_dict}.
    torch.save({"model": mae}, pth("vit_mae_model.pth"))
    # MoCo v3's training checkpoint layout: {"epoch", "arch", "state_dict": {"module...."}, "optimizer"}.
    moco = {"module." + k: v for k, v in sd.items()}
    optimizer = {"state": {}, "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0, 1, 2]}]}
    torch.save({"epoch": 300, "arch": "vit_fixture", "state_dict": moco, "optimizer": optimizer},
               pth("vit_mocov3_checkpoint.pth.tar"))
    # Views that share one storage: at offsets, reshaped, transposed.
    base = torch.arange(24, dtype=torch.float32)
    grid = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    torch.save({"head": base[:4], "middle": base[4:10], "tail": base[10:].view(2, 7), "grid_t": grid.t()},
               pth("pth_shared_storage.pth"))
    # What the opt-in reader must refuse, with the name of what it found.
    torch.save({"model": {"cls_token": sd["cls_token"]}, "best_acc": np.float64(0.5)}, pth("pth_numpy_scalar.pth"))
    torch.save({"model": {"cls_token": sd["cls_token"]}, "x": _Call(os.system, "touch " + PICKLE_MARKER)},
               pth("pth_os_system.pth"))
    torch.save({"model": {"cls_token": sd["cls_token"]},
                "x": _Call(eval, "__import__('os').system('touch %s')" % PICKLE_MARKER)}, pth("pth_eval.pth"))


if __name__ == "__main__":
    main()
