// Text that came from a file (tensor names, metadata, archive members, file names) on its way to a
// terminal or a CSV cell. A raw ESC can clear the screen or forge a line of rcae's own output, a
// newline can forge a row, and bidi overrides can reorder what is shown; each such character is
// shown as a visible escape instead (\x1b, \n, \u202e).

// C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings, overrides and isolates.
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

// JSON.stringify escapes C0 controls and lone surrogates itself; these it leaves raw.
const RAW_IN_JSON = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** JSON.stringify whose output holds no raw control character (a lone 0x9b byte is CSI on some terminals). */
export function terminalJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A message from a parser or decoder quoted inside one of ours: JSON.parse quotes the file's own
 * bytes, libvips repeats its warnings on several lines. Kept to one printable line of bounded length.
 */
export function quotedMessage(message: string, max = 300): string {
  const line = printable(message.trim());
  return line.length > max ? `${line.slice(0, max)}...` : line;
}
