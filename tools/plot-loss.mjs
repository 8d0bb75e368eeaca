// Draws the training loss curve (models/default.loss.csv, written by tools/train.py) as a PNG:
// node tools/plot-loss.mjs models/default.loss.csv docs/training-loss.png
import { readFileSync } from 'node:fs';
import sharp from 'sharp';

const [csvPath, pngPath] = process.argv.slice(2);
const rows = readFileSync(csvPath, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
const points = rows.map(([, , samples, loss]) => [samples, loss]).filter(([, loss]) => loss > 0);
const W = 640, H = 360, L = 70, R = 20, T = 30, B = 50;
const maxX = Math.max(...points.map((p) => p[0]));
const logs = points.map((p) => Math.log10(p[1]));
const lo = Math.floor(Math.min(...logs) * 2) / 2, hi = Math.ceil(Math.max(...logs) * 2) / 2;
const x = (v) => L + ((W - L - R) * v) / maxX;
const y = (v) => T + ((H - T - B) * (hi - Math.log10(v))) / (hi - lo);
const ticks = [];
for (let e = lo; e <= hi + 1e-9; e += 0.5) ticks.push(10 ** e);
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">Training loss (MSE, batch of 64), reference architecture at w=8</text>
${ticks.map((t) => `<line x1="${L}" x2="${W - R}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${L - 6}" y="${y(t) + 4}" text-anchor="end">${t.toPrecision(2)}</text>`).join('')}
<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="black"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="black"/>
<polyline fill="none" stroke="#1f6fb4" stroke-width="2" points="${points.map(([s, l]) => `${x(s).toFixed(1)},${y(l).toFixed(1)}`).join(' ')}"/>
<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">training samples seen (CIFAR-10 train has 50,000)</text>
<text x="${x(maxX)}" y="${H - B + 16}" text-anchor="end">${maxX.toLocaleString('en-US')}</text><text x="${L}" y="${H - B + 16}">0</text>
</svg>`;
await sharp(Buffer.from(svg)).png().toFile(pngPath);
console.log(`wrote ${pngPath}`);
