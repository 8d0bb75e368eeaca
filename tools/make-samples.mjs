// Writes the demo's bundled sample images (samples/*.png): procedurally drawn landscape-like scenes
// (smooth, photo-like statistics, made here so no dataset image is copied into the repo) and uniform
// noise images (the published "fake" recipe). Deterministic: `node tools/make-samples.mjs`.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'samples');
mkdirSync(out, { recursive: true });

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const size = 96;
function scene(seed) {
  const r = rng(seed);
  const sky = [[80 + 100 * r(), 120 + 80 * r(), 200 + 50 * r()], [200 + 50 * r(), 170 + 60 * r(), 140 + 80 * r()]];
  const ground = [40 + 80 * r(), 80 + 90 * r(), 30 + 60 * r()];
  const sun = { x: size * (0.2 + 0.6 * r()), y: size * (0.15 + 0.25 * r()), rad: 6 + 8 * r() };
  const waves = Array.from({ length: 3 }, () => ({ f: 0.02 + 0.06 * r(), p: 6 * r(), a: 4 + 8 * r() }));
  const horizon = size * (0.5 + 0.2 * r());
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const h = horizon + waves.reduce((s, w) => s + w.a * Math.sin(w.f * x * 6.283 / 2 + w.p), 0);
      let c;
      if (y < h) {
        const t = y / h;
        c = sky[0].map((v, i) => v * (1 - t) + sky[1][i] * t);
        const d = Math.hypot(x - sun.x, y - sun.y);
        const glow = Math.max(0, 1 - d / sun.rad);
        c = c.map((v, i) => v + glow * ([255, 240, 200][i] - v));
      } else {
        const shade = 0.6 + 0.4 * (1 - (y - h) / (size - h));
        c = ground.map((v) => v * shade + 10 * Math.sin(x * 0.3 + y * 0.2));
      }
      data.set(c.map((v) => Math.max(0, Math.min(255, Math.round(v)))), (y * size + x) * 3);
    }
  }
  return data;
}

// Noise is drawn at the model's input size (128x128), as the published recipe makes its fakes.
const noiseSize = 128;
function noise(seed) {
  const r = rng(seed);
  return Uint8Array.from({ length: noiseSize * noiseSize * 3 }, () => Math.floor(256 * r()));
}

// A slight blur gives the scenes a camera-like softness; noise stays raw.
const images = [
  ...[1, 2, 3, 4].map((s) => [`scene-${s}.png`, scene(s), size, 0.6]),
  ...[1, 2].map((s) => [`noise-${s}.png`, noise(100 + s), noiseSize, 0]),
];
for (const [name, data, side, blur] of images) {
  const img = sharp(Buffer.from(data), { raw: { width: side, height: side, channels: 3 } });
  await (blur > 0 ? img.blur(blur) : img).png().toFile(join(out, name));
}
console.log(`wrote ${images.length} samples to ${out}`);
