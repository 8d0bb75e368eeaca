"""AUROC of candidate high-frequency scores, real vs fake, from inputs and their reconstructions.

How the `hf` score's definition was chosen (bench/NOTES.md): the per-channel Laplacian with
reflected borders against the Laplacian of the channel mean, with and without the border pixels.

    # inputs as the model sees them (PIL bilinear to 128, [-1, 1]), every 4th image of each set
    python3 tools/hf-variants.py prepare ../shared/datasets/cifar10-test.tar.gz 4 /tmp/real-in.npy
    python3 tools/hf-variants.py prepare ../shared/datasets/tinyimagenet32-val.tar.gz 4 /tmp/fake-in.npy
    node bin/rcae.js reconstruct /tmp/real-in.npy --out /tmp/real-rec.npy   # and the same for fake
    python3 tools/hf-variants.py compare /tmp/real-in.npy /tmp/real-rec.npy /tmp/fake-in.npy /tmp/fake-rec.npy

Reference work only (PyTorch, NumPy, Pillow); nothing at run time uses it.
"""
import io
import sys
import tarfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

LAPLACIAN = torch.tensor([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=torch.float64)


def prepare(archive, every, out):
    images = []
    with tarfile.open(archive) as tar:
        names = sorted(m.name for m in tar.getmembers() if m.isfile() and m.name.lower().endswith(('.jpg', '.jpeg', '.png')))
        for name in names[::every]:
            image = Image.open(io.BytesIO(tar.extractfile(name).read())).convert('RGB').resize((128, 128), Image.BILINEAR)
            images.append((np.asarray(image, dtype=np.float32) / 127.5 - 1.0).transpose(2, 0, 1))
    np.save(out, np.stack(images))


def auroc(real, fake):
    ranks = torch.from_numpy(np.concatenate([real, fake])).argsort().argsort().numpy() + 1.0
    return (ranks[len(real):].sum() - len(fake) * (len(fake) + 1) / 2) / (len(real) * len(fake))


def variants(inputs, reconstructions):
    d = torch.from_numpy(np.load(inputs)).double() - torch.from_numpy(np.load(reconstructions)).double()
    channels = d.shape[1]
    per_channel = LAPLACIAN.expand(channels, 1, 3, 3)
    gray = d.mean(1, keepdim=True)
    return {
        'mse': (d ** 2).mean((1, 2, 3)),
        'per-channel Laplacian, reflected border': (F.conv2d(F.pad(d, (1, 1, 1, 1), mode='reflect'), per_channel, groups=channels) ** 2).mean((1, 2, 3)),
        'per-channel Laplacian, interior': (F.conv2d(d, per_channel, groups=channels) ** 2).mean((1, 2, 3)),
        'channel-mean Laplacian, reflected border': (F.conv2d(F.pad(gray, (1, 1, 1, 1), mode='reflect'), LAPLACIAN.view(1, 1, 3, 3)) ** 2).mean((1, 2, 3)),
        'channel-mean Laplacian, interior (rcae hf)': (F.conv2d(gray, LAPLACIAN.view(1, 1, 3, 3)) ** 2).mean((1, 2, 3)),
    }


if __name__ == '__main__':
    if sys.argv[1:2] == ['prepare'] and len(sys.argv) == 5:
        prepare(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1:2] == ['compare'] and len(sys.argv) == 6:
        real, fake = variants(sys.argv[2], sys.argv[3]), variants(sys.argv[4], sys.argv[5])
        for name in real:
            print(f'{auroc(real[name].numpy(), fake[name].numpy()):.4f}  {name}')
    else:
        sys.exit(__doc__)
