"""Writes the model fixtures and float64 goldens under test/fixtures/model/ (committed), or a full-width
(w=64) published-style checkpoint with goldens into a scratch folder (not committed).

    python3 tools/make_fixtures.py                  # test/fixtures/model/{w8,w4}/
    python3 tools/make_fixtures.py --full-width DIR # DIR/{arch.json,model-published.ckpt,input-random.npy,...}

Weights come from a seeded numpy generator (PyTorch's default init bounds), BatchNorm running
statistics are first measured on random inputs (so activations stay O(1) through every stage) and
then perturbed, so folding BN with the wrong statistics or skipping a term shows in the output.
Goldens are computed with the model in float64 and stored as float32.
"""

import argparse
import collections
import copy
import io
import json
import os
import sys
import tarfile

import numpy as np
import torch
from PIL import Image
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rcae_model as rm  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, 'test', 'fixtures', 'model')
CIFAR_TEST = os.path.join(REPO, '..', 'shared', 'datasets', 'cifar10-test.tar.gz')
# Four classes with different colour/texture statistics.
CIFAR_MEMBERS = ['test/airplane/0000.jpg', 'test/cat/0001.jpg', 'test/frog/0002.jpg', 'test/truck/0003.jpg']
IMAGE_SIZE = 128


def pil_preprocess(data, size=IMAGE_SIZE):
    """torchvision Resize((size,size)) + ToTensor + Normalize(0.5, 0.5) on a PIL image, in float32."""
    img = Image.open(io.BytesIO(data)).convert('RGB').resize((size, size), Image.BILINEAR)
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / np.float32(255)
    return (x - np.float32(0.5)) / np.float32(0.5)


def cifar_inputs(members):
    with tarfile.open(CIFAR_TEST) as tar:
        return np.stack([pil_preprocess(tar.extractfile(name).read()) for name in members])


def init_weights(model, rng):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like PyTorch's default, drawn from numpy so the values do not
    depend on torch's generator. For a transposed conv fan_in counts the inputs that reach one output
    (cin*k*k/stride^2), which keeps the tanh stage out of saturation."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            w = m.weight
            if isinstance(m, nn.ConvTranspose2d):
                fan_in = w.shape[0] * w.shape[2] * w.shape[3] // (m.stride[0] * m.stride[1])
            else:
                fan_in = int(np.prod(w.shape[1:]))
            bound = 1.0 / np.sqrt(fan_in)
            with torch.no_grad():
                w.copy_(torch.from_numpy(rng.uniform(-bound, bound, size=tuple(w.shape))))
                m.bias.copy_(torch.from_numpy(rng.uniform(-bound, bound, size=tuple(m.bias.shape))))


def calibrate_batchnorm(model, rng, batches=2, batch=4):
    """Sets BN running stats to the true statistics of random inputs (cumulative average)."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    for m in model.modules():
        if isinstance(m, nn.Dropout2d):
            m.eval()
    with torch.no_grad():
        for _ in range(batches):
            model(random_images(rng, batch, model.arch['imageSize']))
    for bn in bns:
        bn.momentum = 0.1
    model.eval()


def scale_image_conv(model, rng, rms=0.7, batch=4):
    """Scales the last (image) conv so what tanh sees has RMS ~0.7: a saturated output would hide
    errors upstream."""
    conv = model.decoder[-1].conv
    seen = []
    hook = conv.register_forward_hook(lambda _m, _i, out: seen.append(out))
    with torch.no_grad():
        model.eval()(random_images(rng, batch, model.arch['imageSize']))
        hook.remove()
        scale = rms / seen[0].pow(2).mean().sqrt().item()
        conv.weight.mul_(scale)
        conv.bias.mul_(scale)


def random_images(rng, batch, size):
    return torch.from_numpy(rng.uniform(-1, 1, size=(batch, 3, size, size)))


def perturb_batchnorm(model, rng):
    """Non-trivial affine parameters and statistics that differ from the measured ones."""
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            c = bn.num_features
            std = bn.running_var.sqrt()
            bn.running_mean.add_(torch.from_numpy(rng.normal(0, 0.2, c)) * std)
            bn.running_var.mul_(torch.from_numpy(rng.uniform(0.6, 1.6, c)))
            bn.weight.copy_(torch.from_numpy(rng.uniform(0.6, 1.4, c) * rng.choice([-1.0, 1.0], c, p=[0.1, 0.9])))
            bn.bias.copy_(torch.from_numpy(rng.normal(0, 0.2, c)))
            bn.num_batches_tracked.fill_(int(rng.integers(100, 100_000)))


def make_model(arch, seed):
    rng = np.random.default_rng(seed)
    model = rm.build_model(arch).double()
    init_weights(model, rng)
    calibrate_batchnorm(model, rng)
    perturb_batchnorm(model, rng)
    scale_image_conv(model, rng)
    return model.float().eval()


def goldens(model, x):
    """(recon, latent, mse) of float32 inputs x, computed in float64, returned as float32."""
    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        xd = torch.from_numpy(x).double()
        latent = m.encode(xd)
        recon = m.decode(latent)
        mse = (recon - xd).pow(2).flatten(1).mean(dim=1)
    return recon.float().numpy(), latent.float().numpy(), mse.float().numpy()


def published_model(model):
    pub = rm.build_published_model(model.arch)
    pub.load_state_dict(rm.canonical_to_published(model.state_dict(), model.arch))
    return pub.eval()


def check_same_function(model, pub, x):
    a, b = copy.deepcopy(model).double(), copy.deepcopy(pub).double()
    with torch.no_grad():
        xd = torch.from_numpy(x).double()
        diff = (a(xd) - b(xd)).abs().max().item()
    if diff != 0.0:
        raise AssertionError(f'published-style model differs from the canonical one by {diff}')


def published_checkpoint(pub, config):
    """A dict saved the way training scripts save checkpoints. The optimizer state holds param_groups
    only: a stepped Adam would triple the file size (the weights/ fixtures cover stepped state)."""
    opt = torch.optim.Adam(pub.parameters(), lr=config['lr'])
    return {
        'model_state_dict': collections.OrderedDict(pub.state_dict()),
        'optimizer_state_dict': opt.state_dict(),
        'epoch': 42,
        'config': config,
        'val_loss': 0.0123,
    }


def config_of(arch, placement):
    return {'latent_dim': arch['latentDim'], 'dropout': 0.1, 'base_width': arch['baseWidth'],
            'image_size': arch['imageSize'], 'placement': placement, 'lr': 1e-3, 'batch_size': 64}


def save_npy(path, array):
    np.save(path, np.ascontiguousarray(array))


def write_case(out, name, model, x):
    save_npy(os.path.join(out, f'input-{name}.npy'), x)
    recon, latent, mse = goldens(model, x)
    save_npy(os.path.join(out, f'recon-{name}.npy'), recon)
    save_npy(os.path.join(out, f'latent-{name}.npy'), latent)
    save_npy(os.path.join(out, f'mse-{name}.npy'), mse)
    return {'input': f'input-{name}.npy', 'recon': f'recon-{name}.npy', 'latent': f'latent-{name}.npy',
            'mse': f'mse-{name}.npy', 'batch': int(x.shape[0])}


def write_fixture(out, w, placement, seed, random_batch, with_canonical, with_cifar):
    os.makedirs(out, exist_ok=True)
    # Latent 8w keeps the reference's ratio (512 at w=64) and the files small.
    arch = rm.reference_arch(w, placement, latent_dim=8 * w)
    model = make_model(arch, seed)
    rng = np.random.default_rng(seed + 1)
    x_random = rng.uniform(-1, 1, size=(random_batch, 3, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)
    pub = published_model(model)
    check_same_function(model, pub, x_random)
    with open(os.path.join(out, 'arch.json'), 'w', encoding='utf-8') as f:
        json.dump(arch, f, indent=2)
        f.write('\n')
    torch.save(published_checkpoint(pub, config_of(arch, placement)), os.path.join(out, 'model-published.ckpt'))
    checkpoints = {'published': 'model-published.ckpt'}
    if with_canonical:
        torch.save(collections.OrderedDict(model.state_dict()), os.path.join(out, 'model-canonical.pt'))
        checkpoints['canonical'] = 'model-canonical.pt'
    cases = [write_case(out, 'random', model, x_random)]
    if with_cifar:
        cases.append(write_case(out, 'cifar', model, cifar_inputs(CIFAR_MEMBERS)))
    manifest = {
        'generator': 'tools/make_fixtures.py',
        'torch': torch.__version__,
        'seed': seed,
        'placement': placement,
        'parameterCount': rm.parameter_count(model),
        'arch': 'arch.json',
        'checkpoints': checkpoints,
        'publishedKeyNames': 'PublishedStyleAutoencoder (fc_enc/fc_dec first, Sequential encoder/decoder, ResidualBlock c1/b1/c2/b2)',
        'cases': cases,
        'cifarMembers': CIFAR_MEMBERS if with_cifar else [],
    }
    with open(os.path.join(out, 'manifest.json'), 'w', encoding='utf-8') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    print(f'{out}: w={w} {placement}, {manifest["parameterCount"]} parameters')


def write_full_width(out, seed=64):
    os.makedirs(out, exist_ok=True)
    arch = rm.reference_arch(64, 'reference')
    model = make_model(arch, seed)
    x = np.random.default_rng(seed + 1).uniform(-1, 1, size=(2, 3, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)
    pub = published_model(model)
    with open(os.path.join(out, 'arch.json'), 'w', encoding='utf-8') as f:
        json.dump(arch, f, indent=2)
    torch.save(published_checkpoint(pub, config_of(arch, 'reference')), os.path.join(out, 'model-published.ckpt'))
    case = write_case(out, 'random', model, x)
    count = rm.parameter_count(model)
    with open(os.path.join(out, 'manifest.json'), 'w', encoding='utf-8') as f:
        json.dump({'generator': 'tools/make_fixtures.py --full-width', 'torch': torch.__version__, 'seed': seed,
                   'parameterCount': count, 'arch': 'arch.json', 'checkpoints': {'published': 'model-published.ckpt'},
                   'cases': [case]}, f, indent=2)
    print(f'{out}: w=64 reference, {count} parameters')


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--full-width', metavar='DIR', help='write a w=64 published-style checkpoint and goldens into DIR')
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if args.full_width:
        write_full_width(args.full_width)
        return
    if not os.path.exists(CIFAR_TEST):
        sys.exit(f'make_fixtures: {CIFAR_TEST} not found (the CIFAR-10 test archive is needed for input-cifar.npy)')
    write_fixture(os.path.join(FIXTURES, 'w8'), 8, 'reference', seed=8, random_batch=3,
                  with_canonical=True, with_cifar=True)
    write_fixture(os.path.join(FIXTURES, 'w4'), 4, 'enc4-res', seed=4, random_batch=1,
                  with_canonical=False, with_cifar=False)


if __name__ == '__main__':
    main(sys.argv[1:])
