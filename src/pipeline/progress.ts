// A progress line on stderr for long work, drawn only when stderr is a terminal so that logs and
// machine-readable stdout stay clean.

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
  if (!stream.isTTY) return { update() {}, finish() {} };
  const started = performance.now();
  let last = 0;
  const draw = (done: number) => {
    const elapsed = (performance.now() - started) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    if (total === undefined || total <= 0) {
      stream.write(`\r${label} ${done} done  ${rate.toFixed(1)}/s  ${clock(elapsed)} elapsed  `);
      return;
    }
    const width = 24;
    const filled = Math.min(width, Math.round((width * done) / total));
    const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
    stream.write(`\r${label} [${bar}] ${done}/${total}  ${rate.toFixed(1)}/s  ETA ${clock((total - done) / rate)}  `);
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
