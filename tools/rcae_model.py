"""The project's own PyTorch implementation of the reference residual convolutional autoencoder.

Built from the same architecture description the TypeScript engine uses (src/graph/architecture.ts,
camelCase JSON), so the two can never disagree about the layer list. `ResidualConvAutoencoder` registers
its tensors under the canonical state-dict names in the canonical order; `PublishedStyleAutoencoder`
computes the same function with unrelated names and module order (Sequential indices, fc layers first),
to exercise the engine's structural name/shape matcher the way an unknown real checkpoint would.

Usage: python3 tools/rcae_model.py --count 64 [--placement enc4-res]   (prints the trainable parameter count)
       python3 tools/rcae_model.py --arch arch.json                        (the count for an architecture file)
"""

import argparse
import copy
import json
import sys

import torch
from torch import nn

STAGE_KERNEL, STAGE_STRIDE, STAGE_PADDING = 4, 2, 1
BN_EPS = 1e-5


def reference_arch(w=64, placement='reference', latent_dim=512):
    """The published layer list at base width w (mirror of referenceArchitecture in architecture.ts)."""
    if placement not in ('reference', 'enc4-res'):
        raise ValueError(f"placement must be 'reference' or 'enc4-res', got {placement!r}")
    enc_blocks = [1, 1, 1, 1, 0] if placement == 'reference' else [1, 1, 1, 1, 1]
    dec_blocks = [1, 1, 1, 1, 0] if placement == 'reference' else [0, 1, 1, 1, 0]
    return {
        'baseWidth': w,
        'inChannels': 3,
        'imageSize': 128,
        'latentDim': latent_dim,
        'activation': 'relu',
        'leakySlope': 0.01,
        'encoder': [{'channels': c, 'residualBlocks': b} for c, b in zip([w, 2 * w, 4 * w, 8 * w, 8 * w], enc_blocks)],
        'decoder': [{'channels': c, 'residualBlocks': b} for c, b in zip([8 * w, 4 * w, 2 * w, w, 3], dec_blocks)],
        'fcEncodeActivation': False,
        'fcDecodeActivation': True,
    }


def validate_arch(arch, source='architecture'):
    """Checks the fields this module relies on; returns a deep copy so callers cannot alias it."""
    def fail(msg):
        raise ValueError(f'{source}: invalid architecture: {msg}')

    required = ['baseWidth', 'inChannels', 'imageSize', 'latentDim', 'activation', 'encoder', 'decoder',
                'fcEncodeActivation', 'fcDecodeActivation']
    missing = [k for k in required if k not in arch]
    if missing:
        fail(f'missing keys {missing}')
    if arch['activation'] not in ('relu', 'leaky_relu'):
        fail(f"activation must be 'relu' or 'leaky_relu', got {arch['activation']!r}")
    if len(arch['encoder']) != len(arch['decoder']):
        fail('encoder and decoder must have the same number of stages')
    if arch['imageSize'] % (1 << len(arch['encoder'])):
        fail(f"imageSize {arch['imageSize']} is not divisible by 2^{len(arch['encoder'])}")
    last = arch['decoder'][-1]
    if last['channels'] != arch['inChannels'] or last['residualBlocks'] != 0:
        fail('the last decoder stage must output inChannels and have no residual blocks')
    out = copy.deepcopy(arch)
    out.setdefault('leakySlope', 0.01)
    return out


def bottleneck(arch):
    """(channels, side) of the feature map that fc_encode flattens."""
    return arch['encoder'][-1]['channels'], arch['imageSize'] >> len(arch['encoder'])


def make_activation(arch):
    if arch['activation'] == 'relu':
        return nn.ReLU()
    return nn.LeakyReLU(arch['leakySlope'])


class ResBlock(nn.Module):
    """conv1 -> BN1 -> act -> Dropout2d -> conv2 -> BN2 -> + input -> act."""

    def __init__(self, c, arch, dropout):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(c, eps=BN_EPS)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(c, eps=BN_EPS)
        self.act = make_activation(arch)
        self.drop = nn.Dropout2d(dropout)

    def forward(self, x):
        y = self.drop(self.act(self.bn1(self.conv1(x))))
        return self.act(self.bn2(self.conv2(y)) + x)


class Stage(nn.Module):
    """(transposed) conv 4x4 s2 p1 -> BN -> act -> residual blocks; the image stage: convT -> tanh."""

    def __init__(self, cin, spec, arch, dropout, transposed, image_out):
        super().__init__()
        conv = nn.ConvTranspose2d if transposed else nn.Conv2d
        cout = spec['channels']
        self.conv = conv(cin, cout, STAGE_KERNEL, STAGE_STRIDE, STAGE_PADDING)
        self.bn = None if image_out else nn.BatchNorm2d(cout, eps=BN_EPS)
        self.act = nn.Tanh() if image_out else make_activation(arch)
        self.blocks = nn.ModuleList([ResBlock(cout, arch, dropout) for _ in range(spec['residualBlocks'])])

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        x = self.act(x)
        for block in self.blocks:
            x = block(x)
        return x


class ResidualConvAutoencoder(nn.Module):
    """Canonical names: encoder.{s}.conv/bn/blocks.{b}.conv1..., fc_encode, fc_decode, decoder.{s}...."""

    def __init__(self, arch, dropout=0.1):
        super().__init__()
        self.arch = validate_arch(arch)
        a = self.arch
        stages, cin = [], a['inChannels']
        for spec in a['encoder']:
            stages.append(Stage(cin, spec, a, dropout, transposed=False, image_out=False))
            cin = spec['channels']
        self.encoder = nn.ModuleList(stages)
        c, side = bottleneck(a)
        self.fc_encode = nn.Linear(c * side * side, a['latentDim'])
        self.fc_decode = nn.Linear(a['latentDim'], c * side * side)
        self.fc_encode_act = make_activation(a) if a['fcEncodeActivation'] else nn.Identity()
        self.fc_decode_act = make_activation(a) if a['fcDecodeActivation'] else nn.Identity()
        stages = []
        for i, spec in enumerate(a['decoder']):
            stages.append(Stage(cin, spec, a, dropout, transposed=True, image_out=i == len(a['decoder']) - 1))
            cin = spec['channels']
        self.decoder = nn.ModuleList(stages)

    def encode(self, x):
        for stage in self.encoder:
            x = stage(x)
        return self.fc_encode_act(self.fc_encode(x.flatten(1)))

    def decode(self, z):
        c, side = bottleneck(self.arch)
        x = self.fc_decode_act(self.fc_decode(z)).view(z.shape[0], c, side, side)
        for stage in self.decoder:
            x = stage(x)
        return x

    def forward(self, x):
        return self.decode(self.encode(x))

    def reconstruction_error(self, x, reduction='none'):
        return reconstruction_error(self, x, reduction)


class ResidualBlock(nn.Module):
    """Same function as ResBlock under the field names c1, b1, c2, b2."""

    def __init__(self, c, arch, dropout):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, 1, 1)
        self.b1 = nn.BatchNorm2d(c, eps=BN_EPS)
        self.c2 = nn.Conv2d(c, c, 3, 1, 1)
        self.b2 = nn.BatchNorm2d(c, eps=BN_EPS)
        self.act = make_activation(arch)
        self.dropout = nn.Dropout2d(dropout)

    def forward(self, x):
        y = self.dropout(self.act(self.b1(self.c1(x))))
        return self.act(self.b2(self.c2(y)) + x)


class PublishedStyleAutoencoder(nn.Module):
    """The reference function laid out like a typical published model: fc layers registered first
    (fc_enc, fc_dec), then encoder and decoder as flat nn.Sequentials with numeric indices."""

    def __init__(self, arch, dropout=0.1):
        super().__init__()
        self.arch = validate_arch(arch)
        a = self.arch
        c, side = bottleneck(a)
        self.fc_enc = nn.Linear(c * side * side, a['latentDim'])
        self.fc_dec = nn.Linear(a['latentDim'], c * side * side)
        self.fc_enc_act = make_activation(a) if a['fcEncodeActivation'] else nn.Identity()
        self.fc_dec_act = make_activation(a) if a['fcDecodeActivation'] else nn.Identity()
        # (published module path, canonical module path) for every module that owns tensors.
        self._module_map = [('fc_enc', 'fc_encode'), ('fc_dec', 'fc_decode')]
        self.encoder = self._sequential('encoder', a['encoder'], a, dropout, transposed=False)
        self.decoder = self._sequential('decoder', a['decoder'], a, dropout, transposed=True)

    def _sequential(self, name, specs, a, dropout, transposed):
        layers = []
        cin = a['inChannels'] if not transposed else bottleneck(a)[0]

        def add(module, canonical=None):
            if canonical is not None:
                self._module_map.append((f'{name}.{len(layers)}', canonical))
            layers.append(module)

        for s, spec in enumerate(specs):
            cout = spec['channels']
            image_out = transposed and s == len(specs) - 1
            conv = nn.ConvTranspose2d if transposed else nn.Conv2d
            add(conv(cin, cout, STAGE_KERNEL, STAGE_STRIDE, STAGE_PADDING), f'{name}.{s}.conv')
            if image_out:
                add(nn.Tanh())
            else:
                add(nn.BatchNorm2d(cout, eps=BN_EPS), f'{name}.{s}.bn')
                add(make_activation(a))
            for b in range(spec['residualBlocks']):
                index = len(layers)
                for short, full in (('c1', 'conv1'), ('b1', 'bn1'), ('c2', 'conv2'), ('b2', 'bn2')):
                    self._module_map.append((f'{name}.{index}.{short}', f'{name}.{s}.blocks.{b}.{full}'))
                layers.append(ResidualBlock(cout, a, dropout))
            cin = cout
        return nn.Sequential(*layers)

    def module_map(self):
        return list(self._module_map)

    def encode(self, x):
        return self.fc_enc_act(self.fc_enc(self.encoder(x).flatten(1)))

    def decode(self, z):
        c, side = bottleneck(self.arch)
        return self.decoder(self.fc_dec_act(self.fc_dec(z)).view(z.shape[0], c, side, side))

    def forward(self, x):
        return self.decode(self.encode(x))

    def reconstruction_error(self, x, reduction='none'):
        return reconstruction_error(self, x, reduction)


def reconstruction_error(model, x, reduction='none'):
    """Per-sample mean squared error over C*H*W; reduction 'mean' or 'sum' reduce over the batch."""
    per_sample = (model(x) - x).pow(2).flatten(1).mean(dim=1)
    if reduction == 'none':
        return per_sample
    if reduction == 'mean':
        return per_sample.mean()
    if reduction == 'sum':
        return per_sample.sum()
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def build_model(arch, dropout=0.1):
    return ResidualConvAutoencoder(arch, dropout)


def build_published_model(arch, dropout=0.1):
    return PublishedStyleAutoencoder(arch, dropout)


def _key_pairs(arch):
    """(published key, canonical key) for every state-dict entry, checked against both real models."""
    published = PublishedStyleAutoencoder(arch)
    pairs = []
    for pub_prefix, can_prefix in published.module_map():
        module = published.get_submodule(pub_prefix)
        for suffix in module.state_dict().keys():
            pairs.append((f'{pub_prefix}.{suffix}', f'{can_prefix}.{suffix}'))
    canonical_keys = set(ResidualConvAutoencoder(arch).state_dict().keys())
    published_keys = set(published.state_dict().keys())
    if {p for p, _ in pairs} != published_keys or {c for _, c in pairs} != canonical_keys:
        raise RuntimeError('PublishedStyleAutoencoder module map and canonical names disagree')
    return pairs


def _convert(state, pairs):
    out = {}
    for src, dst in pairs:
        if src not in state:
            raise KeyError(f'state dict lacks {src}')
        out[dst] = state[src].clone()
    extra = set(state.keys()) - {src for src, _ in pairs}
    if extra:
        raise KeyError(f'state dict has unexpected keys {sorted(extra)[:5]}')
    return out


def published_to_canonical(state, arch):
    """Renames a PublishedStyleAutoencoder state dict to canonical names, in canonical order."""
    pairs = {p: c for p, c in _key_pairs(arch)}
    order = list(ResidualConvAutoencoder(arch).state_dict().keys())
    renamed = _convert(state, list(pairs.items()))
    return {k: renamed[k] for k in order}


def canonical_to_published(state, arch):
    """Renames a canonical state dict to PublishedStyleAutoencoder names, in that model's order."""
    pairs = [(c, p) for p, c in _key_pairs(arch)]
    order = list(PublishedStyleAutoencoder(arch).state_dict().keys())
    renamed = _convert(state, pairs)
    return {k: renamed[k] for k in order}


def parameter_count(model):
    """Trainable parameters only (BN running statistics are buffers)."""
    return sum(p.numel() for p in model.parameters())


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--count', nargs='?', type=int, const=64, metavar='WIDTH',
                        help='print the trainable parameter count of the reference at this base width (default 64)')
    parser.add_argument('--placement', default='reference', choices=['reference', 'enc4-res'])
    parser.add_argument('--arch', help='architecture JSON file (overrides --count WIDTH / --placement)')
    args = parser.parse_args(argv)
    if args.count is None and args.arch is None:
        parser.error('nothing to do: give --count [WIDTH] or --arch FILE')
    if args.arch:
        with open(args.arch, encoding='utf-8') as f:
            arch = validate_arch(json.load(f), args.arch)
    else:
        arch = reference_arch(args.count, args.placement)
    print(parameter_count(build_model(arch)))


if __name__ == '__main__':
    main(sys.argv[1:])
