"""Peer child: the project's own PyTorch model (tools/rcae_model.py) on the CPU, eager mode, eval().

Same contract as the Node children (bench/peers/protocol.ts):
    python3 bench/peers/torch-cpu.py --engine torch-cpu --model WEIGHTS --arch ARCH.json --onnx UNUSED
        --batch B --iterations K --warmup W --input IN.bin --output OUT.bin
WEIGHTS is canonical float32 safetensors (parsed here with bounds checks, no extra package) or a
torch.save file (read by tools/export_onnx.py's allow-list unpickler: never executed). Prints one JSON line.
"""

import argparse
import json
import os
import struct
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_HEADER = 100_000_000
STATE_DICT_KEYS = ('model_state_dict', 'state_dict', 'model')  # as in src/weights/checkpoint.ts


class Unavailable(Exception):
    """This machine cannot run the peer at all (no torch)."""


def read_safetensors(path, np):
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f'{path}: too short for safetensors')
    (n,) = struct.unpack('<Q', data[:8])
    if n > MAX_HEADER or 8 + n > len(data):
        raise ValueError(f'{path}: header of {n} bytes does not fit the file')
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    tensors = {}
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        if entry.get('dtype') != 'F32':
            raise ValueError(f'{path}: tensor {name} is {entry.get("dtype")}, expected F32')
        shape, (begin, end) = entry['shape'], entry['data_offsets']
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= begin <= end <= len(body)) or end - begin != 4 * count:
            raise ValueError(f'{path}: tensor {name} data_offsets {begin}..{end} do not hold {shape} float32')
        tensors[name] = np.frombuffer(body[begin:end], dtype='<f4').reshape(shape).copy()
    return tensors


def read_weights(path, torch, np):
    with open(path, 'rb') as f:
        zip_magic = f.read(2) == b'PK'
    if not zip_magic:
        return {k: torch.from_numpy(v) for k, v in read_safetensors(path, np).items()}
    from export_onnx import safe_torch_load

    state = safe_torch_load(path)
    for key in STATE_DICT_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            return state[key]
    return state


def run(args):
    try:
        import numpy as np
        import torch
    except ImportError as e:
        raise Unavailable(f'PyTorch is not importable ({e})') from e
    sys.path.insert(0, os.path.join(REPO, 'tools'))
    import rcae_model as rm

    with open(args.arch, encoding='utf-8') as f:
        arch = rm.validate_arch(json.load(f), args.arch)
    model = rm.build_model(arch).eval()
    missing, unexpected = model.load_state_dict(read_weights(args.model, torch, np), strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        raise ValueError(f'{args.model}: missing {missing[:3]}, unexpected {unexpected[:3]} (canonical names expected)')
    per_sample = arch['inChannels'] * arch['imageSize'] ** 2
    raw = np.fromfile(args.input, dtype='<f4')
    if raw.size != args.batch * per_sample:
        raise ValueError(f'{args.input}: holds {raw.size} float32, expected {args.batch * per_sample}')
    x = torch.from_numpy(raw.reshape(args.batch, arch['inChannels'], arch['imageSize'], arch['imageSize']))
    torch.set_num_threads(os.cpu_count() or 1)
    ms = []
    with torch.inference_mode():
        for i in range(args.warmup + args.iterations):
            start = time.perf_counter()
            y = model(x).numpy()
            elapsed = (time.perf_counter() - start) * 1000
            if i == 0:
                y.astype('<f4').tofile(args.output)
            if i >= args.warmup:
                ms.append(elapsed)
    backend = f'torch {torch.__version__} cpu, {torch.get_num_threads()} threads'
    return {'ok': True, 'engine': 'torch-cpu', 'batch': args.batch, 'ms': ms, 'backend': backend}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag in ('--engine', '--model', '--arch', '--onnx', '--input', '--output'):
        parser.add_argument(flag, required=True)
    for flag in ('--batch', '--iterations', '--warmup'):
        parser.add_argument(flag, type=int, required=True)
    args = parser.parse_args(argv)
    try:
        if args.engine != 'torch-cpu':
            raise ValueError(f'this child runs --engine torch-cpu, got {args.engine}')
        result = run(args)
    except Unavailable as e:
        result = {'ok': False, 'engine': 'torch-cpu', 'error': str(e), 'skipped': True}
    except Exception as e:  # noqa: BLE001 - the parent wants one line, whatever failed
        result = {'ok': False, 'engine': 'torch-cpu', 'error': f'{type(e).__name__}: {e}'.split('\n')[0], 'skipped': False}
    print('\n' + json.dumps(result), flush=True)
    return 0 if result['ok'] else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
