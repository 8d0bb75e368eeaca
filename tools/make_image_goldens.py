"""Writes the PIL goldens for src/image and the numpy/tarfile-made fixtures for src/io, all under
test/fixtures/images/ (committed, ~1.5 MB). Reproducible: `python3 tools/make_image_goldens.py`.

- cifar-pil.npy [16,128,128,3] u1: PIL's convert('RGB').resize((128,128), BILINEAR) of 16 CIFAR-10
  test JPEGs read straight from ../shared/datasets/cifar10-test.tar.gz (only the outputs and the
  member names are stored, never the dataset's files).
- synthetic/*: small images this script makes (grey, RGBA, palette, 16-bit, a 300x200 JPEG to
  downscale, an EXIF-rotated JPEG, one-axis resizes, an oversized header) and synthetic-pil.npy
  [K,128,128,3] u1 with what the preprocessing must produce for each.
- resize-*.npy / resize-cases.json: random RGB arrays and PIL's BILINEAR resize of them at several
  sizes, to test the resize apart from decoding.
- normalize-u8.npy [256] f32: ToTensor + Normalize(0.5, 0.5) of each byte value in float32.
- npy/*.npy + npy/cases.json: files written by numpy (format versions 1-3, several dtypes, and
  layouts the reader must reject).
- archives/*: the same files packed by Python's tarfile as ustar, GNU (long names, gzip) and pax.
"""

import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tarfile
import zlib

import numpy as np
from PIL import Image, ImageOps

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, 'test', 'fixtures', 'images')
CIFAR_TEST = os.path.join(REPO, '..', 'shared', 'datasets', 'cifar10-test.tar.gz')
CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
CIFAR_MEMBERS = [f'test/{c}/0000.jpg' for c in CLASSES] + [f'test/{c}/0500.jpg' for c in CLASSES[:6]]
SIZE = 128


def pil_resized(img, size=SIZE):
    return np.asarray(img.convert('RGB').resize((size, size), Image.BILINEAR))


def write_json(path, obj):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')


def cifar_goldens():
    with tarfile.open(CIFAR_TEST) as tar:
        out = [pil_resized(Image.open(io.BytesIO(tar.extractfile(m).read()))) for m in CIFAR_MEMBERS]
    np.save(os.path.join(OUT, 'cifar-pil.npy'), np.stack(out))
    return {'archive': 'cifar10-test.tar.gz', 'members': CIFAR_MEMBERS}


def texture(rng, h, w, channels):
    """Smooth gradients plus noise: exercises both interpolation and rounding."""
    y, x = np.mgrid[0:h, 0:w]
    planes = [(np.sin(x / (3 + 2 * c) + y / (5 + c)) * 90 + 128 + rng.normal(0, 25, (h, w))) for c in range(channels)]
    return np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)


def png16(path, samples, color_type):
    """A 16-bit PNG (PIL cannot write 16-bit RGB): colour type 0 = grey, 2 = RGB."""
    h, w = samples.shape[:2]
    raw = b''.join(b'\x00' + samples[y].astype('>u2').tobytes() for y in range(h))
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 16, color_type, 0, 0, 0))
                + png_chunk(b'IDAT', zlib.compress(raw, 9)) + png_chunk(b'IEND', b''))


def png_chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)


def synthetic_goldens(rng):
    d = os.path.join(OUT, 'synthetic')
    os.makedirs(d, exist_ok=True)
    cases = []

    def add(name, golden, how):
        cases.append({'file': f'synthetic/{name}', 'how': how, 'golden': golden})

    def save_and_add(name, img, **save_args):
        img.save(os.path.join(d, name), **save_args)
        add(name, pil_resized(Image.open(os.path.join(d, name))), "PIL open -> convert('RGB') -> resize BILINEAR")

    save_and_add('grey.png', Image.fromarray(texture(rng, 23, 37, 1)[..., 0], 'L'))
    rgba = texture(rng, 30, 40, 4)
    rgba[:5, :, 3] = 0  # fully transparent pixels keep their colour in convert('RGB')
    save_and_add('rgba.png', Image.fromarray(rgba, 'RGBA'))
    pal = Image.fromarray(rng.integers(0, 16, (13, 19), dtype=np.uint8), 'P')
    pal.putpalette(rng.integers(0, 256, 48).tolist())
    save_and_add('palette.png', pal, transparency=3)
    save_and_add('large.jpg', Image.fromarray(texture(rng, 200, 300, 3)), quality=90)
    save_and_add('tall.png', Image.fromarray(texture(rng, 300, SIZE, 3)))
    save_and_add('wide.png', Image.fromarray(texture(rng, SIZE, 300, 3)))
    save_and_add('same.png', Image.fromarray(texture(rng, SIZE, SIZE, 3)))
    save_and_add('odd.gif', Image.fromarray(texture(rng, 29, 31, 3)).convert('P'))

    rgb16 = (texture(rng, 17, 33, 3).astype(np.uint16) << 8) | rng.integers(0, 256, (17, 33, 3), dtype=np.uint16)
    png16(os.path.join(d, 'rgb16.png'), rgb16, 2)
    add('rgb16.png', pil_resized(Image.open(os.path.join(d, 'rgb16.png'))), 'PIL (keeps the high byte of 16-bit RGB)')
    grey16 = (texture(rng, 21, 15, 1)[..., 0].astype(np.uint16) << 8) | rng.integers(0, 256, (21, 15), dtype=np.uint16)
    png16(os.path.join(d, 'grey16.png'), grey16, 0)
    high = np.repeat((grey16 >> 8).astype(np.uint8)[..., None], 3, axis=-1)
    add('grey16.png', pil_resized(Image.fromarray(high)),
        'high byte replicated to RGB, then PIL resize (PIL itself clips 16-bit grey to 255: not followed)')

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(texture(rng, 32, 48, 3)).save(os.path.join(d, 'exif-rotated.jpg'), quality=95, exif=exif.tobytes())
    upright = ImageOps.exif_transpose(Image.open(os.path.join(d, 'exif-rotated.jpg')))
    add('exif-rotated.jpg', pil_resized(upright), 'ImageOps.exif_transpose, then as PIL (plain PIL would not rotate)')

    # Claims 9000x9000 pixels (over the decoder's limit) but carries one empty row of pixel data.
    with open(os.path.join(d, 'oversized-header.png'), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', struct.pack('>IIBBBBB', 9000, 9000, 8, 2, 0, 0, 0))
                + png_chunk(b'IDAT', zlib.compress(b'\x00' * 27001)) + png_chunk(b'IEND', b''))

    np.save(os.path.join(OUT, 'synthetic-pil.npy'), np.stack([c.pop('golden') for c in cases]))
    return cases


RESIZE_CASES = [(32, 32, 128, 128), (300, 200, 128, 128), (7, 5, 3, 11), (1, 1, 4, 4), (5, 9, 5, 4),
                (9, 5, 4, 5), (129, 127, 128, 128), (250, 3, 7, 2), (2, 3, 200, 1), (64, 48, 17, 61)]


def resize_goldens(rng):
    inputs, outputs, cases = [], [], []
    for w, h, ow, oh in RESIZE_CASES:
        src = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if w * h > 100:
            src = texture(rng, h, w, 3)
        dst = np.asarray(Image.fromarray(src).resize((ow, oh), Image.BILINEAR))
        cases.append({'width': w, 'height': h, 'outWidth': ow, 'outHeight': oh,
                      'inputOffset': sum(a.size for a in inputs), 'outputOffset': sum(a.size for a in outputs)})
        inputs.append(src.reshape(-1))
        outputs.append(dst.reshape(-1))
    np.save(os.path.join(OUT, 'resize-inputs.npy'), np.concatenate(inputs))
    np.save(os.path.join(OUT, 'resize-outputs.npy'), np.concatenate(outputs))
    write_json(os.path.join(OUT, 'resize-cases.json'), cases)


def npy_fixtures(rng):
    d = os.path.join(OUT, 'npy')
    os.makedirs(d, exist_ok=True)
    cases = []

    def save(name, arr, version=None, expect=True):
        with open(os.path.join(d, name), 'wb') as f:
            np.lib.format.write_array(f, arr, version=version, allow_pickle=False)
        if expect:
            cases.append({'file': name, 'dtype': arr.dtype.str[1:], 'shape': list(arr.shape),
                          'values': arr.astype(np.float64).reshape(-1).tolist()})

    save('f4-v1.npy', rng.normal(size=(2, 3, 4)).astype(np.float32))
    save('f4-v2.npy', rng.normal(size=(3, 5)).astype(np.float32), version=(2, 0))
    save('f4-v3.npy', rng.normal(size=(4,)).astype(np.float32), version=(3, 0))
    save('f8.npy', rng.normal(size=(5,)))
    save('f2.npy', np.array([[0, 1, -2.5], [65504, 6e-8, -0.0]], dtype=np.float16))
    save('i8.npy', np.array([[-3, 2 ** 40], [7, 0]], dtype=np.int64))
    save('i4-scalar.npy', np.array(-123456, dtype=np.int32))
    save('u1.npy', np.array([0, 1, 254, 255], dtype=np.uint8))
    save('u2.npy', np.array([0, 65535], dtype=np.uint16))
    save('i1.npy', np.array([-128, 127], dtype=np.int8))
    save('b1.npy', np.array([True, False, True]))
    save('empty.npy', np.zeros((0, 3), dtype=np.float32))
    save('fortran.npy', np.asfortranarray(rng.normal(size=(2, 3)).astype(np.float32)), expect=False)
    save('big-endian.npy', rng.normal(size=(3,)).astype('>f4'), expect=False)
    save('complex.npy', np.array([1 + 2j], dtype=np.complex64), expect=False)
    errors = [{'file': 'fortran.npy', 'error': 'fortran_order'},
              {'file': 'big-endian.npy', 'error': 'big-endian'},
              {'file': 'complex.npy', 'error': "unsupported dtype '<c8'"}]
    write_json(os.path.join(d, 'cases.json'), {'arrays': cases, 'errors': errors})


def tar_fixtures(rng):
    d = os.path.join(OUT, 'archives')
    os.makedirs(d, exist_ok=True)
    long_dir = 'a-directory-name-long-enough/' * 4
    files = [('small.txt', 7), ('dir/empty.bin', 0), ('dir/block.bin', 512), ('dir/over-block.bin', 513),
             (f'{long_dir}long-name.jpg', 1500), ('dir/sub/unicodé.png', 100)]
    payload = {name: rng.integers(0, 256, size, dtype=np.uint8).tobytes() for name, size in files}
    formats = [('ustar.tar', tarfile.USTAR_FORMAT, ''), ('gnu.tar.gz', tarfile.GNU_FORMAT, 'gz'), ('pax.tar', tarfile.PAX_FORMAT, '')]
    for fname, fmt, comp in formats:
        # ustar splits long names into prefix/name, which this one (>155 + 100 chars) cannot use.
        entries = [(n, b) for n, b in payload.items() if fmt != tarfile.USTAR_FORMAT or len(n) < 100]
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode='w', format=fmt) as tar:
            tar.addfile(dir_info('dir/', 0o755))
            for name, data in entries:
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
                tar.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo('dir/link.jpg')
            link.type, link.linkname, link.mtime = tarfile.SYMTYPE, 'small.txt', 1_700_000_000
            tar.addfile(link)
        data = gzip.compress(buffer.getvalue(), mtime=0) if comp == 'gz' else buffer.getvalue()
        with open(os.path.join(d, fname), 'wb') as f:
            f.write(data)
    manifest = {fname: [{'name': n, 'size': len(b), 'sha256': hashlib.sha256(b).hexdigest()}
                        for n, b in payload.items() if fmt != tarfile.USTAR_FORMAT or len(n) < 100]
                for fname, fmt, _ in formats}
    write_json(os.path.join(d, 'manifest.json'), manifest)


def dir_info(name, mode):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, 1_700_000_000
    return info


def main():
    if not os.path.exists(CIFAR_TEST):
        sys.exit(f'make_image_goldens: {CIFAR_TEST} not found')
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2024)
    names = {'cifar': cifar_goldens(), 'synthetic': synthetic_goldens(rng), 'size': SIZE}
    write_json(os.path.join(OUT, 'names.json'), names)
    resize_goldens(rng)
    # ToTensor + Normalize(0.5, 0.5) of every byte value, in float32 as torch computes it.
    np.save(os.path.join(OUT, 'normalize-u8.npy'),
            (np.arange(256, dtype=np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5))
    npy_fixtures(rng)
    tar_fixtures(rng)
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
