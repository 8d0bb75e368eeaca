"""Trains the reference autoencoder on CIFAR-10 train with the published recipe, on the CPU.

Recipe (the published model card's): AdamW lr 1e-3, weight decay 1e-5, MSE loss, ReduceLROnPlateau
(factor 0.5, patience 5) on the validation loss, inputs resized to 128x128 with PIL bilinear and
normalised with mean 0.5 / std 0.5. What differs, because this runs on 2 CPU cores instead of an H100:
a reduced base width, a smaller batch, and a wall-clock budget (training stops when it runs out,
mid-epoch if need be, validates once more, and training.json records stopped_by_time_budget).

`tools/train-default.sh` runs this exactly as the default model was made (seeded; thread scheduling
can still perturb the last bits), then converts and records it:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tools/train.py \
      --width 8 --epochs 3 --minutes 70 --out .cache/train-w8
Writes OUT/model.ckpt (published layout: model_state_dict, optimizer_state_dict, epoch, config,
val_loss), OUT/arch.json, OUT/training.json (recipe, per-epoch losses, test MSE) and OUT/loss.csv.
"""

import argparse
import io
import json
import math
import os
import sys
import tarfile
import time

import numpy as np
import torch
from PIL import Image
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rcae_model import build_model, parameter_count, reference_arch  # noqa: E402

DATASETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'datasets')


def load_split(archive, size, limit=None, seed=0):
    """All images of a CIFAR-10 archive, PIL-resized to size x size, as uint8 [N, 3, size, size]."""
    with tarfile.open(archive, 'r:gz') as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.lower().endswith('.jpg')), key=lambda m: m.name)
        if limit is not None and limit < len(members):
            pick = np.random.default_rng(seed).choice(len(members), limit, replace=False)
            members = [members[i] for i in sorted(pick)]
        out = np.empty((len(members), 3, size, size), dtype=np.uint8)
        for i, m in enumerate(members):
            img = Image.open(io.BytesIO(tar.extractfile(m).read())).convert('RGB').resize((size, size), Image.BILINEAR)
            out[i] = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    return out


def normalise(batch_u8):
    return torch.from_numpy(batch_u8).float().div_(255.0).sub_(0.5).div_(0.5)


@torch.no_grad()
def evaluate(model, data, batch):
    model.eval()
    errors = []
    for i in range(0, len(data), batch):
        errors.append(model.reconstruction_error(normalise(data[i:i + batch])))
    model.train()
    return torch.cat(errors).double().mean().item()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--width', type=int, default=8)
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--minutes', type=float, default=75.0, help='wall-clock budget for the training loop')
    p.add_argument('--val', type=int, default=1000, help='CIFAR-10 test images used as the validation set per epoch')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--train-limit', type=int, help='train on a random subset (smoke tests)')
    p.add_argument('--datasets', default=DATASETS)
    p.add_argument('--out', required=True)
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    arch = reference_arch(args.width)
    size = arch['imageSize']

    t0 = time.time()
    train = load_split(os.path.join(args.datasets, 'cifar10-train.tar.gz'), size, args.train_limit, args.seed)
    test = load_split(os.path.join(args.datasets, 'cifar10-test.tar.gz'), size, args.train_limit, args.seed)
    val = test[np.random.default_rng(args.seed).choice(len(test), min(args.val, len(test)), replace=False)]
    print(f'loaded {len(train)} train / {len(test)} test images in {time.time() - t0:.0f}s', flush=True)

    model = build_model(arch)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode='min', factor=0.5, patience=5)
    loss_fn = nn.MSELoss()
    rng = np.random.default_rng(args.seed)
    history, log_rows = [], ['epoch,step,samples,train_loss,lr,elapsed_s']
    deadline = time.time() + args.minutes * 60
    start = time.time()
    samples, stopped_early, epoch = 0, False, 0
    steps_per_epoch = math.ceil(len(train) / args.batch)
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(train))
        running, n = 0.0, 0
        for step in range(steps_per_epoch):
            idx = np.sort(order[step * args.batch:(step + 1) * args.batch])
            x = normalise(train[idx])
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), x)
            loss.backward()
            opt.step()
            running += loss.item() * len(idx)
            n += len(idx)
            samples += len(idx)
            if step % 50 == 0 or step == steps_per_epoch - 1:
                elapsed = time.time() - start
                log_rows.append(f'{epoch},{step},{samples},{loss.item():.6f},{opt.param_groups[0]["lr"]:.2e},{elapsed:.0f}')
                print(f'epoch {epoch} step {step}/{steps_per_epoch} loss {loss.item():.5f} {samples / elapsed:.1f} samples/s', flush=True)
            if time.time() > deadline:
                stopped_early = True
                break
        val_loss = evaluate(model, val, 256)
        sched.step(val_loss)
        history.append({'epoch': epoch, 'steps': step + 1, 'train_loss': running / max(n, 1), 'val_loss': val_loss,
                        'lr': opt.param_groups[0]['lr'], 'elapsed_s': round(time.time() - start)})
        print(f'epoch {epoch}: train {running / max(n, 1):.5f} val {val_loss:.5f}', flush=True)
        if stopped_early:
            break

    test_mse = evaluate(model, test, 256)
    train_seconds = time.time() - start
    print(f'CIFAR-10 test MSE {test_mse:.6f} after {samples} samples ({train_seconds / 60:.1f} min)', flush=True)
    model.eval()
    ckpt = {
        'model_state_dict': model.state_dict(),
        'optimizer_state_dict': opt.state_dict(),
        'epoch': epoch,
        'val_loss': history[-1]['val_loss'],
        'config': {'architecture': arch, 'batch_size': args.batch, 'learning_rate': 1e-3, 'weight_decay': 1e-5},
    }
    tmp = os.path.join(args.out, 'model.ckpt.tmp')
    torch.save(ckpt, tmp)
    os.replace(tmp, os.path.join(args.out, 'model.ckpt'))
    with open(os.path.join(args.out, 'arch.json'), 'w') as f:
        json.dump(arch, f, indent=2)
    with open(os.path.join(args.out, 'loss.csv'), 'w') as f:
        f.write('\n'.join(log_rows) + '\n')
    summary = {
        'recipe': {'optimizer': 'AdamW', 'lr': 1e-3, 'weight_decay': 1e-5, 'loss': 'MSE',
                   'scheduler': 'ReduceLROnPlateau(factor=0.5, patience=5) on val loss',
                   'normalisation': 'mean 0.5 std 0.5', 'input': '128x128 PIL bilinear', 'batch': args.batch,
                   'width': args.width, 'seed': args.seed, 'threads': args.threads},
        'data': {'train': 'cifar10-train.tar.gz (50,000)', 'validation': f'{args.val} images of cifar10-test.tar.gz',
                 'test': 'cifar10-test.tar.gz (10,000)'},
        'parameters': parameter_count(model),
        'epochs': history,
        'samples_seen': samples,
        'stopped_by_time_budget': stopped_early,
        'train_minutes': round(train_seconds / 60, 1),
        'test_mse': test_mse,
        'machine': 'Debian bookworm, 2 CPU cores, PyTorch ' + torch.__version__,
        'command': 'tools/train.py ' + ' '.join(argv),
    }
    with open(os.path.join(args.out, 'training.json'), 'w') as f:
        json.dump(summary, f, indent=2)


if __name__ == '__main__':
    main(sys.argv[1:])
