// What an anomaly map at the input's size costs on the CPU, per sample and per map score, by the
// original image's size: the map at the model's size (errorMaps), the resampling to the image's size
// (mapAtSize), the colouring (heatMap) and the PNG encoding (sharp), medians of `repeats` runs, and
// the process's peak RSS. No GPU: the input and its reconstruction are seeded random tensors.
// Usage: node dist/bench/maps.js [--repeats 3] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import '../src/node/node-platform.js';
import { errorMaps, heatMap, mapAtSize, MAP_SCORES } from '../src/image/anomaly-maps.js';
import { comparisonGridPngBytes } from '../src/image/comparison-grid.js';
import { mulberry32 } from '../src/graph/random-params.js';

const SIZE = 128;
const SIZES: readonly [number, number][] = [[32, 32], [40, 24], [640, 480], [1920, 1080], [4000, 3000], [8192, 8192]];
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '3' }, json: { type: 'string' } } });
const repeats = Number(values.repeats);
const rand = mulberry32(7);
const image = Float32Array.from({ length: 3 * SIZE * SIZE }, () => rand() * 2 - 1);
const recon = image.map((v) => v + (rand() - 0.5) * 0.3);

const rows = [];
for (const [width, height] of SIZES) {
  const times: Record<string, number[]> = { errorMaps: [], mapAtSize: [], heatMap: [], png: [] };
  let pngBytes = 0;
  for (let r = 0; r < repeats; r++) {
    for (const score of MAP_SCORES) {
      let t = performance.now();
      const own = errorMaps(score, image, recon, 1, 3, SIZE);
      times.errorMaps.push(performance.now() - t);
      t = performance.now();
      const map = mapAtSize(own, SIZE, width, height);
      times.mapAtSize.push(performance.now() - t);
      t = performance.now();
      const picture = heatMap(map, width, height, 1);
      times.heatMap.push(performance.now() - t);
      t = performance.now();
      pngBytes = (await comparisonGridPngBytes(picture)).length;
      times.png.push(performance.now() - t);
    }
  }
  const ms = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Number(median(v).toFixed(2))]));
  const row = { width, height, ms, pngBytes, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) };
  rows.push(row);
  console.log(`${width}x${height}: errorMaps ${ms.errorMaps} ms, mapAtSize ${ms.mapAtSize} ms, heatMap ${ms.heatMap} ms, png ${ms.png} ms per map; png ${pngBytes} bytes; peak RSS ${row.peakRssMiB} MiB`);
}
if (values.json) writeFileSync(values.json, JSON.stringify({ repeats, rows }, null, 2) + '\n');
