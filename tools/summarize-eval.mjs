// Prints the markdown table of the bundled model's detector figures (docs/results.md) from the JSON files that
// tools/evaluate-default.sh writes (one `rcae eval --json` document per fake set).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const order = ['noise', 'tinyimagenet', 'blur', 'jpeg', 'patch-shuffle', 'splice', 'color-shift', 'upscale'];
const present = new Set(readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')));
const pct = (v) => `${(100 * v).toFixed(1)}%`;
console.log('| fake set | real / fake images | AUROC | AP | EER | TPR at 1% FPR | TPR at 5% FPR | mean error real / fake | ratio of means |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const name of order.filter((n) => present.has(n))) {
  const e = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  console.log(`| ${name} | ${e.real.count} / ${e.fake.count} | ${e.auroc.toFixed(4)} | ${e.averagePrecision.toFixed(4)} | ${pct(e.eer.rate)} | ${pct(e.tprAt1PercentFpr.tpr)} | ${pct(e.tprAt5PercentFpr.tpr)} | ${e.real.mean.toFixed(5)} / ${e.fake.mean.toFixed(5)} | ${e.meanRatio.toFixed(2)}x |`);
}
