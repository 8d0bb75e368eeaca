// Dawn's Vulkan backend prints notices straight to the process's stderr (fd 2) from native code the
// first time each Dawn instance looks at an adapter; on lavapipe these are
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 ...
// They come from the adapter's own limits, so no requested limit avoids them, and JavaScript cannot
// reach fd 2 below Node. The CLI therefore runs the command in a child whose stderr passes through
// this filter (src/cli/launch.ts); `--verbose` shows them.

/** One line of Dawn's native output that says nothing the user can act on. */
export const DAWN_NOTICE = /^Warning: maxDynamic\w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n$/;

// Dawn writes wherever the cursor is, possibly after a progress line drawn without a line feed, so
// a notice is recognised at the end of any line.
const NOTICE_AT_END = new RegExp(DAWN_NOTICE.source.slice(1));
const PREFIX = 'Warning: maxDynamic';

/** Where the text may start becoming a notice (held back until its line ends), or -1. */
function possibleNoticeStart(text: string): number {
  const full = text.indexOf(PREFIX);
  if (full !== -1) return full;
  for (let k = Math.min(PREFIX.length - 1, text.length); k > 0; k--) {
    if (text.endsWith(PREFIX.slice(0, k))) return text.length - k;
  }
  return -1;
}

/**
 * Returns a filter that takes stderr text in arbitrary chunks and passes everything but Dawn's
 * notices to `write`, as soon as it is known not to be one (so progress lines drawn with `\r`
 * appear at once), and a flush for the end of the stream.
 */
export function dawnNoticeFilter(write: (text: string) => void): { push(chunk: string): void; flush(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk;
      let out = '';
      for (let newline = pending.indexOf('\n'); newline !== -1; newline = pending.indexOf('\n')) {
        out += pending.slice(0, newline + 1).replace(NOTICE_AT_END, '');
        pending = pending.slice(newline + 1);
      }
      const hold = possibleNoticeStart(pending);
      out += hold === -1 ? pending : pending.slice(0, hold);
      pending = hold === -1 ? '' : pending.slice(hold);
      if (out) write(out);
    },
    flush() {
      if (pending) write(pending);
      pending = '';
    },
  };
}
