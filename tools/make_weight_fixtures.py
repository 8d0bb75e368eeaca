#!/usr/bin/env python3
"""Writes the small weight files that test/weights/*.test.ts read, with real torch.save, plus
expected.json: what an independent reader (torch itself) sees in them.

Run from the repository root (needs PyTorch; nothing at test time does):
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tools/make_weight_fixtures.py

Models are the reference layer list at base width 2 and latent 8 so each file stays far below 300 KB.
"""
import argparse
import base64
import hashlib
import json
import math
import os
import pickle
import random
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

OUT = Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'weights'
WIDTH = 2
LATENT = 8
IN_CHANNELS = 3
BOTTLENECK = 4  # 128 / 2**5
# The path the malicious fixture's payload would create if anything ever executed it.
PWNED_SENTINEL = '/tmp/rcae-weights-fixture-pwned'


# ---- the reference architecture with canonical state-dict names ----

class Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(c)


class Stage(nn.Module):
    def __init__(self, cin, cout, blocks, transposed, with_bn):
        super().__init__()
        self.conv = (nn.ConvTranspose2d if transposed else nn.Conv2d)(cin, cout, 4, 2, 1)
        if with_bn:
            self.bn = nn.BatchNorm2d(cout)
        self.blocks = nn.ModuleList([Res(cout) for _ in range(blocks)])


def channels(w):
    return [w, 2 * w, 4 * w, 8 * w, 8 * w], [8 * w, 4 * w, 2 * w, w, IN_CHANNELS]


class Canonical(nn.Module):
    def __init__(self, w=WIDTH, latent=LATENT):
        super().__init__()
        enc, dec = channels(w)
        blocks = [1, 1, 1, 1, 0]
        cins = [IN_CHANNELS] + enc[:-1]
        self.encoder = nn.ModuleList([Stage(cins[i], enc[i], blocks[i], False, True) for i in range(5)])
        flat = enc[-1] * BOTTLENECK * BOTTLENECK
        self.fc_encode = nn.Linear(flat, latent)
        self.fc_decode = nn.Linear(latent, flat)
        dins = [enc[-1]] + dec[:-1]
        self.decoder = nn.ModuleList([Stage(dins[i], dec[i], blocks[i], True, i < 4) for i in range(5)])


def leaf_modules(model):
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.Linear))]


def randomise_batchnorm(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = 1 + 0.1 * torch.randn(c, generator=gen)
            m.bias.data = 0.1 * torch.randn(c, generator=gen)
            m.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
            m.num_batches_tracked.fill_(7)


# ---- a model with the same layers under foreign names and module order ----

class SeqBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.Dropout2d(0.1),
                                  nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c))


class Foreign(nn.Module):
    """Linear layers registered first, stages flattened into Sequentials with numeric indices."""

    def __init__(self, w=WIDTH, latent=LATENT):
        super().__init__()
        enc, dec = channels(w)
        flat = enc[-1] * BOTTLENECK * BOTTLENECK
        self.bottleneck = nn.ModuleDict({'to_latent': nn.Linear(flat, latent), 'from_latent': nn.Linear(latent, flat)})
        layers, cin = [], IN_CHANNELS
        for i, c in enumerate(enc):
            layers += [nn.Conv2d(cin, c, 4, 2, 1), nn.BatchNorm2d(c), nn.ReLU()] + ([SeqBlock(c)] if i < 4 else [])
            cin = c
        self.enc = nn.Sequential(*layers)
        layers = []
        for i, c in enumerate(dec):
            layers += [nn.ConvTranspose2d(cin, c, 4, 2, 1)]
            layers += [nn.BatchNorm2d(c), nn.ReLU(), SeqBlock(c)] if i < 4 else [nn.Tanh()]
            cin = c
        self.dec = nn.Sequential(*layers)

    def canonical_order(self):
        """Leaf modules in the order Canonical registers them."""
        enc, dec = leaf_modules(self.enc), leaf_modules(self.dec)
        return enc + [self.bottleneck['to_latent'], self.bottleneck['from_latent']] + dec


def copy_weights(dst_modules, src_modules):
    assert len(dst_modules) == len(src_modules)
    for d, s in zip(dst_modules, src_modules):
        assert type(d) is type(s) and d.weight.shape == s.weight.shape, (d, s)
        d.load_state_dict(s.state_dict())


# ---- expectations, from torch's own view of the data ----

def digest(t):
    """Sum and index-weighted sum of the float32 values in row-major order (order-sensitive)."""
    v = t.detach().float().contiguous().view(-1).double().numpy()
    weights = (np.arange(v.size) % 13) + 1
    return [float(v.sum()), float((v * weights).sum())]


def float32_bits(t):
    return [int(b) & 0xFFFFFFFF for b in t.detach().float().contiguous().view(-1).view(torch.int32).tolist()]


def describe_digests(sd):
    return {k: {'shape': list(v.shape), 'digest': digest(v)} for k, v in sd.items()}


def describe_bits(sd):
    return {k: {'shape': list(v.shape), 'bits': float32_bits(v)} for k, v in sd.items()}


# ---- safetensors written independently of the TypeScript writer ----

SAFETENSORS_DTYPES = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float64: 'F64',
                      torch.int64: 'I64', torch.int32: 'I32', torch.uint8: 'U8', torch.bool: 'BOOL'}


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {'__metadata__': metadata}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool else t.numpy().astype(np.uint8).tobytes()
        header[name] = {'dtype': SAFETENSORS_DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    path.write_bytes(struct.pack('<Q', len(text)) + text + b''.join(blobs))


# ---- payloads that must never run ----

class Shell:
    def __reduce__(self):
        return (os.system, (f'touch {PWNED_SENTINEL}',))


class Eval:
    def __reduce__(self):
        return (eval, (f"open('{PWNED_SENTINEL}', 'w')",))


# ---- plain pickles of random Python data, for the unpickler on its own ----

class Point:
    """A class the unpickler does not know: it must come back as an inert object with its state."""

    def __init__(self, x, label):
        self.x = x
        self.label = label


def random_value(rng, depth, shared):
    kinds = ['none', 'bool', 'int', 'bigint', 'float', 'str', 'longstr', 'bytes']
    if depth < 4:
        kinds += ['list', 'tuple', 'dict', 'ordered', 'set', 'frozenset', 'point', 'shared'] * 2
    kind = rng.choice(kinds)
    if kind == 'none':
        return None
    if kind == 'bool':
        return rng.random() < 0.5
    if kind == 'int':
        return rng.choice([0, 1, -1, 255, 256, 65535, 65536, -(2**31), 2**31 - 1, 2**31, rng.randint(-10**6, 10**6)])
    if kind == 'bigint':
        return rng.choice([1, -1]) * rng.randint(2**53, 2**200)
    if kind == 'float':
        return rng.choice([0.0, -0.0, 1e-300, 1.5, -2.25e10, math.inf, -math.inf, rng.uniform(-1e6, 1e6)])
    if kind == 'str':
        return rng.choice(['', 'a', 'state_dict', 'ünï€ode ✓', 'x' * rng.randint(0, 40)])
    if kind == 'longstr':
        return 'L' * rng.randint(256, 700)
    if kind == 'bytes':
        return bytes(rng.randrange(256) for _ in range(rng.choice([0, 3, 300])))
    if kind == 'shared':
        if not shared:
            shared.append([rng.randint(0, 9)])
        return shared[0]  # the same object twice: memo GET
    n = rng.randint(0, 4)
    children = [random_value(rng, depth + 1, shared) for _ in range(n)]
    if kind == 'list':
        return children
    if kind == 'tuple':
        return tuple(children)
    if kind in ('dict', 'ordered'):
        keys = [rng.choice(['k', 'weight', 'ä', str(i)]) + str(i) for i in range(n)]
        d = dict(zip(keys, children))
        return OrderedDict(d) if kind == 'ordered' else d
    if kind in ('set', 'frozenset'):
        items = {rng.randint(-5, 5) for _ in range(n)} | {rng.choice(['a', 'b'])}
        return set(items) if kind == 'set' else frozenset(items)
    return Point(random_value(rng, depth + 1, shared), rng.choice(['p', 'q']))


def tagged(v):
    """The value in a JSON form that test/weights/pickle.test.ts rebuilds from the unpickler's output."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return {'int': str(v)}
    if isinstance(v, float):
        return {'float': v if math.isfinite(v) else repr(v)} if not (v == 0 and math.copysign(1, v) < 0) else {'float': '-0'}
    if isinstance(v, str):
        return {'str': v}
    if isinstance(v, (bytes, bytearray)):
        return {'bytes': base64.b64encode(bytes(v)).decode()}
    if isinstance(v, list):
        return {'list': [tagged(x) for x in v]}
    if isinstance(v, tuple):
        return {'tuple': [tagged(x) for x in v]}
    if isinstance(v, dict):
        return {'dict': [[tagged(k), tagged(x)] for k, x in v.items()]}
    if isinstance(v, (set, frozenset)):
        return {'set': [tagged(x) for x in v]}
    if isinstance(v, Point):
        return {'inert': f'{type(v).__module__}.{type(v).__qualname__}', 'state': tagged(vars(v))}
    raise TypeError(type(v))


def pickle_cases():
    rng = random.Random(99)
    cases = []
    for i in range(40):
        value = random_value(rng, 0, [])
        for protocol in (2, 3, 4, 5):
            cases.append({'protocol': protocol, 'pickle': base64.b64encode(pickle.dumps(value, protocol=protocol)).decode(), 'value': tagged(value)})
    return cases


def write_python_zip(path):
    """An archive from Python's zipfile (deflate at two levels, stored, a comment, zip64 local headers)."""
    rng = random.Random(5)
    contents = {
        'notes.txt': ('rcae ' * 500).encode(),
        'random.bin': bytes(rng.randrange(256) for _ in range(3000)),
        'dir/stored.txt': b'stored, not compressed',
        'dir/empty': b'',
    }
    with zipfile.ZipFile(path, 'w') as zf:
        zf.comment = b'written by make_weight_fixtures.py'
        for name, data in contents.items():
            method = zipfile.ZIP_STORED if name == 'dir/stored.txt' else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            with zf.open(info, 'w', force_zip64=(name == 'random.bin')) as f:
                f.write(data)
    return {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}


def special_values():
    return torch.tensor([0.0, -0.0, 1.0, -2.5, 3.140625, 65504.0, 6.0e-8, 1e-5, float('inf'), float('-inf'), float('nan'), 0.1])


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(1234)
    torch.manual_seed(1234)
    model = Canonical()
    randomise_batchnorm(model, gen)
    # Copies: a state_dict shares storage with the live parameters, which the optimizer step moves.
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    expected = {'width': WIDTH, 'latent': LATENT, 'sentinel': PWNED_SENTINEL}

    torch.save(sd, OUT / 'plain.pt')
    expected['plain'] = describe_digests(sd)

    # A training script's checkpoint: weights under model_state_dict next to optimizer state,
    # scalars, a config dict, an argparse.Namespace and a numpy scalar.
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    # Only the linear layers get gradients, so momentum state (real tensors) stays small.
    loss = model.fc_encode.weight.square().sum() + model.fc_decode.weight.square().sum()
    loss.backward()
    opt.step()
    opt.zero_grad()
    model.load_state_dict(sd)  # keep the weights equal to plain.pt's
    torch.save({
        'epoch': 12,
        'model_state_dict': model.state_dict(),
        'optimizer_state_dict': opt.state_dict(),
        'loss': 0.03125,
        'best_loss': np.float64(0.0625),
        'config': {'latent_dim': LATENT, 'dropout': 0.1, 'name': 'rcae', 'layers': [1, 2]},
        'args': argparse.Namespace(lr=0.001, batch_size=64, data='cifar10'),
    }, OUT / 'published.ckpt')

    # A PyTorch Lightning checkpoint: the LightningModule holds the network as self.model.
    torch.save({
        'epoch': 3,
        'global_step': 120,
        'pytorch-lightning_version': '2.1.0',
        'state_dict': {f'model.{k}': v for k, v in sd.items()},
        'hyper_parameters': {'latent_dim': LATENT, 'lr': 0.001},
        'lr_schedulers': [],
        'callbacks': {},
    }, OUT / 'lightning.ckpt')

    foreign = Foreign()
    copy_weights(foreign.canonical_order(), leaf_modules(model))
    torch.save(foreign.state_dict(), OUT / 'foreign.pt')

    values = special_values()
    dtypes = {
        'f16': values.half().reshape(3, 4),
        'bf16': values.bfloat16().reshape(4, 3),
        'f64': (values.double() / 3).reshape(2, 6),
        'i64': torch.tensor([0, -1, 2**40, -(2**35), 7], dtype=torch.int64),
        'i32': torch.tensor([[1, -2], [2**31 - 1, -(2**31)]], dtype=torch.int32),
        'u8': torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
        'bool': torch.tensor([True, False, True], dtype=torch.bool),
        'scalar': torch.tensor(2.5),
    }
    # Saved as a DataParallel model would be, under 'model'.
    torch.save({'model': {f'module.{k}': v for k, v in dtypes.items()}, 'step': 5}, OUT / 'dtypes.pt')
    expected['dtypes'] = describe_bits(dtypes)

    base = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5) * 0.5 - 7
    half = (torch.arange(24, dtype=torch.float32) * 0.25).reshape(4, 6).half()
    views = {
        'base': base,
        'permuted': base.permute(2, 0, 1),
        'sliced': base[1:, ::2, 1:4],
        'expanded': torch.tensor([1.5, -2.0, 3.25]).reshape(3, 1).expand(3, 4),
        'half_transposed': half.t(),
        'row': base[2, 3],
    }
    torch.save(views, OUT / 'views.pt')
    expected['views'] = describe_bits(views)
    expected['views_strides'] = {k: list(v.stride()) for k, v in views.items()}

    small = {'fc.weight': torch.randn(2, 3, generator=gen), 'fc.bias': torch.randn(2, generator=gen)}
    torch.save({'state_dict': small, 'payload': Shell(), 'hook': Eval()}, OUT / 'malicious.pt')
    expected['malicious'] = describe_bits(small)

    torch.save(small, OUT / 'legacy.pt', _use_new_zipfile_serialization=False)
    torch.save(nn.Linear(2, 2), OUT / 'module.pt')

    st = {'f32': torch.randn(3, 5, generator=gen), 'f16': special_values().half(), 'bf16': special_values().bfloat16().reshape(2, 6),
          'i64': torch.tensor([[3, -4]], dtype=torch.int64), 'empty': torch.zeros(0, 4)}
    write_safetensors(OUT / 'reference.safetensors', st, {'format': 'pt', 'note': 'written by make_weight_fixtures.py'})
    expected['safetensors'] = describe_bits(st)

    (OUT / 'pickles.json').write_text(json.dumps(pickle_cases()) + '\n')
    expected['python_zip'] = write_python_zip(OUT / 'python.zip')

    (OUT / 'expected.json').write_text(json.dumps(expected, indent=1) + '\n')
    for p in sorted(OUT.iterdir()):
        print(f'{p.stat().st_size:>8}  {p.relative_to(OUT.parent.parent.parent)}')


if __name__ == '__main__':
    # Set iteration order depends on string hashing; pin it so pickles.json is reproducible.
    # (legacy.pt still differs run to run: the legacy format names storages by object id.)
    if os.environ.get('PYTHONHASHSEED') != '0':
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, 'PYTHONHASHSEED': '0'})
    main()
