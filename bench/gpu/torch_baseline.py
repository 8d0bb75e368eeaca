"""PyTorch baseline for `rcae bench`: the same architecture (tools/rcae_model.py), seeded random weights,
eval mode under torch.inference_mode, timed per batch size in several numeric/layout variants.

Variants: fp32 (TF32 off), tf32, channels_last_fp32, channels_last_tf32, fp16_autocast and
channels_last_fp16_autocast. TF32 and fp16 autocast are CUDA tensor-core modes: on --device cpu they are
reported as skipped (CPU autocast in torch 1.13 has no fp16, and TF32 flags would only repeat fp32).

Timing: `--warmup` untimed forwards (they also let cudnn.benchmark pick its algorithms), then
`--iterations` timed forwards, each bracketed by CUDA events and synchronized (perf_counter on CPU);
the median is reported. Every variant's output is compared with the fp32 output of the same input.

Prints a markdown table; --json FILE writes {device, torch, model, settings, runs: [{variant, batch,
samples_per_s, ms_per_batch, ...}], skipped: [...]}.

Usage: python3 bench/gpu/torch_baseline.py [--device cuda] [--width 64] [--batches 1,8,32,128,256,512,1024]
                                           [--variants LIST] [--warmup 5] [--iterations 20] [--json FILE]
"""

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from contextlib import nullcontext

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools'))

from rcae_model import build_model, parameter_count, reference_arch  # noqa: E402

DEFAULT_BATCHES = '1,8,32,128,256,512,1024'

# name -> (TF32 allowed, channels_last, autocast dtype or None)
VARIANTS = {
    'fp32': (False, False, None),
    'tf32': (True, False, None),
    'channels_last_fp32': (False, True, None),
    'channels_last_tf32': (True, True, None),
    'fp16_autocast': (False, False, torch.float16),
    'channels_last_fp16_autocast': (False, True, torch.float16),
}


def positive_int_list(text):
    try:
        values = [int(s) for s in text.split(',')]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f'expected a comma-separated list of positive integers, got {text!r}')
    return values


def variant_list(text):
    names = text.split(',')
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise argparse.ArgumentTypeError(f'unknown variants {unknown}; known: {", ".join(VARIANTS)}')
    return names


def set_tf32(enabled):
    """torch >= 2.9 has per-backend fp32_precision settings and warns on the legacy flags; older only the flags."""
    conv = getattr(torch.backends.cudnn, 'conv', None)
    if conv is not None and hasattr(conv, 'fp32_precision'):
        precision = 'tf32' if enabled else 'ieee'
        torch.backends.cudnn.conv.fp32_precision = precision
        torch.backends.cuda.matmul.fp32_precision = precision
    else:
        torch.backends.cudnn.allow_tf32 = enabled
        torch.backends.cuda.matmul.allow_tf32 = enabled


def skip_reason(variant, device):
    tf32, _, autocast = VARIANTS[variant]
    if device.type == 'cuda':
        return None
    if autocast is not None:
        return 'fp16 autocast runs on CUDA only'
    if tf32:
        return 'TF32 is a CUDA tensor-core mode; on CPU it would repeat fp32'
    return None


def device_name(device):
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical cores)"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def flops_per_sample(model, arch, device):
    """2 x multiply-adds of every conv, transposed conv and linear layer, counted by forward hooks on one
    sample (the same convention as the engine's planFlops: bias, BN, activations not counted)."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1] if hasattr(module, 'kernel_size') else 1
        if isinstance(module, nn.ConvTranspose2d):
            total += 2 * inputs[0][0].numel() * module.out_channels * k
        elif isinstance(module, nn.Conv2d):
            total += 2 * output[0].numel() * (module.in_channels // module.groups) * k
        else:
            total += 2 * module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with torch.inference_mode():
            model(torch.zeros(1, arch['inChannels'], arch['imageSize'], arch['imageSize'], device=device))
    finally:
        for h in handles:
            h.remove()
    return total


class Timer:
    """Times one call: CUDA events on the GPU (the host only waits for them), perf_counter on the CPU."""

    def __init__(self, device):
        self.cuda = device.type == 'cuda'

    def __call__(self, fn):
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3


def is_out_of_memory(err):
    return isinstance(err, torch.cuda.OutOfMemoryError) or 'out of memory' in str(err).lower()


def measure(models, variant, x, reference, args, device, timer):
    tf32, channels_last, autocast = VARIANTS[variant]
    set_tf32(tf32)
    model = models['channels_last' if channels_last else 'nchw']
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    context = torch.autocast(device_type=device.type, dtype=autocast) if autocast is not None else nullcontext()
    out = None

    def forward():
        nonlocal out
        with context:
            out = model(x)

    with torch.inference_mode():
        for _ in range(args.warmup):
            forward()
        times = [timer(forward) for _ in range(args.iterations)]
    diff = (out.float() - reference).abs().max().item()
    return times, diff


def run(args):
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('torch_baseline: --device cuda but torch.cuda.is_available() is False (use --device cpu)')
    torch.backends.cudnn.benchmark = True
    arch = reference_arch(args.width, args.placement)
    torch.manual_seed(args.seed)
    model = build_model(arch).eval().to(device)
    models = {'nchw': model, 'channels_last': copy.deepcopy(model).to(memory_format=torch.channels_last)}
    flops = flops_per_sample(model, arch, device)
    timer = Timer(device)
    result = {
        'device': device_name(device),
        'device_type': device.type,
        'torch': torch.__version__,
        'cuda': torch.version.cuda,
        'cudnn': torch.backends.cudnn.version() if device.type == 'cuda' else None,
        'model': {'base_width': args.width, 'placement': args.placement, 'parameters': parameter_count(model),
                  'gflop_per_sample': flops / 1e9},
        'settings': {'seed': args.seed, 'warmup': args.warmup, 'iterations': args.iterations, 'cudnn_benchmark': True,
                     'mode': 'eval + inference_mode', 'timing': 'CUDA events' if device.type == 'cuda' else 'perf_counter',
                     'statistic': 'median'},
        'runs': [],
        'skipped': [],
    }
    runnable = []
    for variant in args.variants:
        reason = skip_reason(variant, device)
        if reason:
            result['skipped'].append({'variant': variant, 'batch': None, 'reason': reason})
        else:
            runnable.append(variant)
    generator = torch.Generator().manual_seed(args.seed + 1)
    for batch in args.batches:
        x = (torch.rand(batch, arch['inChannels'], arch['imageSize'], arch['imageSize'], generator=generator) * 2 - 1).to(device)
        try:
            set_tf32(False)
            with torch.inference_mode():
                reference = model(x).float()
        except RuntimeError as err:
            if not is_out_of_memory(err):
                raise
            result['skipped'].extend({'variant': v, 'batch': batch, 'reason': 'out of memory'} for v in runnable)
            torch.cuda.empty_cache()
            continue
        for variant in runnable:
            try:
                times, diff = measure(models, variant, x, reference, args, device, timer)
            except RuntimeError as err:
                if not is_out_of_memory(err):
                    raise
                result['skipped'].append({'variant': variant, 'batch': batch, 'reason': 'out of memory'})
                torch.cuda.empty_cache()
                continue
            ms = statistics.median(times)
            run_figures = {
                'variant': variant, 'batch': batch, 'samples_per_s': batch / ms * 1e3, 'ms_per_batch': ms,
                'ms_min': min(times), 'ms_max': max(times), 'iterations': len(times),
                'tflops': flops * batch / ms / 1e9, 'max_abs_diff_vs_fp32': diff,
            }
            result['runs'].append(run_figures)
            print(f"  {variant} batch {batch}: {run_figures['samples_per_s']:.1f} samples/s ({ms:.3f} ms)", file=sys.stderr, flush=True)
        del x, reference
    set_tf32(False)
    return result


def markdown(result):
    m = result['model']
    lines = [
        f"PyTorch {result['torch']} on {result['device']}: base width {m['base_width']}, {m['parameters']:,} parameters, "
        f"{m['gflop_per_sample']:.3f} GFLOP/sample; median of {result['settings']['iterations']} iterations",
        '',
        '| variant | batch | samples/s | ms/batch | TFLOP/s | max abs diff vs fp32 |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
    ]
    for r in result['runs']:
        lines.append(f"| {r['variant']} | {r['batch']} | {r['samples_per_s']:.1f} | {r['ms_per_batch']:.3f} | "
                     f"{r['tflops']:.3g} | {r['max_abs_diff_vs_fp32']:.2e} |")
    if result['skipped']:
        lines.append('')
    for s in result['skipped']:
        where = f" at batch {s['batch']}" if s['batch'] is not None else ''
        lines.append(f"- skipped {s['variant']}{where}: {s['reason']}")
    return '\n'.join(lines) + '\n'


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda', choices=['cuda', 'cpu'])
    parser.add_argument('--width', type=int, default=64, help='base width of the reference architecture (default 64)')
    parser.add_argument('--placement', default='reference', choices=['reference', 'enc4-res'])
    parser.add_argument('--batches', type=positive_int_list, default=positive_int_list(DEFAULT_BATCHES))
    parser.add_argument('--variants', type=variant_list, default=list(VARIANTS))
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--iterations', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', help='write every figure to this JSON file')
    args = parser.parse_args(argv)
    if args.width < 1 or args.iterations < 1 or args.warmup < 0:
        parser.error('--width and --iterations must be >= 1 and --warmup >= 0')
    if args.device == 'cpu':
        torch.set_flush_denormal(True)  # denormal activations from random weights would distort CPU timings
    result = run(args)
    if args.json:
        tmp = args.json + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(result, f, indent=2)
            f.write('\n')
        os.replace(tmp, args.json)
    sys.stdout.write(markdown(result))


if __name__ == '__main__':
    main(sys.argv[1:])
