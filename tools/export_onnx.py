"""Exports the project's PyTorch model (tools/rcae_model.py) for the benchmark peers:

    OUT/model.onnx  torch.onnx.export, opset 17, eval mode, input "image" [N,3,S,S] with a dynamic
                    batch axis, output "reconstruction"
    OUT/model.pt    torch.save of the canonical state dict (what rcae and the other peers load)
    OUT/arch.json   the architecture

The weights are either seeded (tools/make_fixtures.py's initialisation: PyTorch-like bounds, BatchNorm
statistics measured on random inputs and then perturbed, so BatchNorm folding is exercised) or read
from a checkpoint (through an allow-list unpickler: never executed; canonical or published-style names).

rcae itself writes ONNX from TypeScript (bench/peers/onnx-writer.ts) and needs no Python at bench time;
this exporter is the independent reference that writer is checked against.

    python3 tools/export_onnx.py --out DIR [--width 64] [--placement reference] [--seed 0]
    python3 tools/export_onnx.py --out DIR --arch arch.json --checkpoint model.ckpt
"""

import argparse
import collections
import io
import json
import os
import pickle
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rcae_model as rm  # noqa: E402

OPSET = 17
STATE_DICT_KEYS = ('model_state_dict', 'state_dict', 'model')


# torch.save's zip layout: ARCHIVE/data.pkl (the object tree) and ARCHIVE/data/KEY (raw storages).
STORAGE_DTYPES = {'FloatStorage': torch.float32, 'DoubleStorage': torch.float64, 'HalfStorage': torch.float16,
                  'BFloat16Storage': torch.bfloat16, 'LongStorage': torch.int64, 'IntStorage': torch.int32,
                  'ShortStorage': torch.int16, 'CharStorage': torch.int8, 'ByteStorage': torch.uint8,
                  'BoolStorage': torch.bool}
MAX_PICKLE_BYTES = 1 << 28


class _AllowListUnpickler(pickle.Unpickler):
    """Resolves only the globals a checkpoint of plain data needs; any other global (os.system, an
    arbitrary class) stops the load. torch 1.13 offers no safe path of its own for such files: its
    weights_only mode rejects the float scalars training scripts store, and it ignores pickle_module."""

    ALLOWED = {('collections', 'OrderedDict'): collections.OrderedDict,
               ('torch._utils', '_rebuild_tensor_v2'): torch._utils._rebuild_tensor_v2,
               ('torch._utils', '_rebuild_parameter'): torch._utils._rebuild_parameter,
               ('torch', 'Size'): torch.Size}

    def __init__(self, file, archive, zf):
        super().__init__(file)
        self.archive, self.zf = archive, zf
        self.storages = {}  # tensors that share a storage in the file share it after loading too

    def find_class(self, module, name):
        if module == 'torch' and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f'{module}.{name} is not allowed in a checkpoint')

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == 'storage' and isinstance(pid[1], torch.dtype)):
            raise pickle.UnpicklingError(f'unexpected persistent id {pid!r:.80}')
        _, dtype, key, _location, numel = pid
        if key not in self.storages:
            data = bytearray(self.zf.read(f'{self.archive}/data/{key}'))
            if len(data) < numel * torch.empty((), dtype=dtype).element_size():
                raise pickle.UnpicklingError(f'storage {key} is shorter than its {numel} elements')
            self.storages[key] = torch.frombuffer(data, dtype=dtype, count=numel).storage() if numel else torch.empty(0, dtype=dtype).storage()
        return self.storages[key]


def safe_torch_load(path):
    """Reads a torch.save (zip) file without executing anything the file asks for."""
    with zipfile.ZipFile(path) as zf:
        pickles = [n for n in zf.namelist() if n.count('/') == 1 and n.endswith('/data.pkl')]
        if len(pickles) != 1:
            raise ValueError(f'{path}: not a torch.save zip archive (found {len(pickles)} data.pkl)')
        if zf.getinfo(pickles[0]).file_size > MAX_PICKLE_BYTES:
            raise ValueError(f'{path}: data.pkl is implausibly large')
        archive = pickles[0][:-len('/data.pkl')]
        return _AllowListUnpickler(io.BytesIO(zf.read(pickles[0])), archive, zf).load()


def load_state_dict(path, arch):
    """A canonical state dict from a torch.save file holding canonical or published-style names."""
    state = safe_torch_load(path)
    for key in STATE_DICT_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise SystemExit(f'{path}: no state dict found')
    canonical = set(rm.build_model(arch).state_dict().keys())
    if set(state.keys()) == canonical:
        return state
    try:
        return rm.published_to_canonical(state, arch)
    except KeyError as e:
        raise SystemExit(f'{path}: names match neither the canonical nor the published layout ({e})') from e


def seeded_model(arch, seed):
    import make_fixtures  # only the seeded path needs its numpy/PIL imports

    return make_fixtures.make_model(arch, seed)


def export(model, arch, out):
    os.makedirs(out, exist_ok=True)
    model = model.float().eval()
    size = arch['imageSize']
    example = torch.zeros(1, arch['inChannels'], size, size)
    torch.onnx.export(model, example, os.path.join(out, 'model.onnx'), opset_version=OPSET,
                      input_names=['image'], output_names=['reconstruction'],
                      dynamic_axes={'image': {0: 'batch'}, 'reconstruction': {0: 'batch'}},
                      do_constant_folding=True)
    torch.save(collections.OrderedDict(model.state_dict()), os.path.join(out, 'model.pt'))
    with open(os.path.join(out, 'arch.json'), 'w', encoding='utf-8') as f:
        json.dump(arch, f, indent=2)
        f.write('\n')


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--width', type=int, default=64, help='base width of the reference architecture')
    parser.add_argument('--placement', default='reference', choices=['reference', 'enc4-res'])
    parser.add_argument('--latent', type=int, help='latent size (default: the reference 512)')
    parser.add_argument('--arch', help='architecture JSON (overrides --width/--placement/--latent)')
    parser.add_argument('--seed', type=int, default=0, help='seed for random weights (ignored with --checkpoint)')
    parser.add_argument('--checkpoint', help='torch.save file to export instead of seeded weights')
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if args.arch:
        with open(args.arch, encoding='utf-8') as f:
            arch = rm.validate_arch(json.load(f), args.arch)
    else:
        arch = rm.reference_arch(args.width, args.placement, **({'latent_dim': args.latent} if args.latent else {}))
    if args.checkpoint:
        model = rm.build_model(arch)
        model.load_state_dict(load_state_dict(args.checkpoint, arch))
    else:
        model = seeded_model(arch, args.seed)
    export(model, arch, args.out)
    print(f'{args.out}: model.onnx, model.pt, arch.json ({rm.parameter_count(model)} parameters)')


if __name__ == '__main__':
    main(sys.argv[1:])
