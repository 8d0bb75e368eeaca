// A progress line on stderr for long work, drawn only when stderr is a terminal so that logs and
// machine-readable stdout stay clean, and cut to the terminal's width so that each update redraws
// the same line instead of wrapping onto a new one.
import { stderrColumns } from './terminal.js';

export interface Progress {
  update(done: number): void;
  finish(): void;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** `total` undefined: the amount of work is not known up front (shown as a count and rate). */
export function progressBar(label: string, total: number | undefined, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stderrColumns(stream) === undefined) return { update() {}, finish() {} };
  // Asked at every update: the terminal may be resized during a long run.
  const columns = () => stderrColumns(stream) ?? 80;
  // The last column stays empty: writing into it makes some terminals wrap.
  const fit = (text: string): void => {
    stream.write(`\r${text.slice(0, columns() - 1)}\x1b[K`);
  };
  const started = performance.now();
  let last = 0;
  const draw = (done: number) => {
    const elapsed = (performance.now() - started) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    if (total === undefined || total <= 0) {
      fit(`${label} ${done} done  ${rate.toFixed(1)}/s  ${clock(elapsed)} elapsed`);
      return;
    }
    const counts = ` ${done}/${total}  ${rate.toFixed(1)}/s  ETA ${clock((total - done) / rate)}`;
    // The bar takes what the label and counts leave, between 10 and 40 columns, or none at all.
    const room = columns() - 1 - label.length - counts.length - 3;
    const width = Math.min(40, room);
    if (width < 10) return fit(`${label}${counts}`);
    const filled = Math.min(width, Math.round((width * done) / total));
    fit(`${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${counts}`);
  };
  return {
    update(done) {
      const now = performance.now();
      if (now - last < 100 && done !== total) return;
      last = now;
      draw(done);
    },
    finish() {
      stream.write('\r\x1b[K');
    },
  };
}
