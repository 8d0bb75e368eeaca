// Finds the image files among command-line arguments: directories are searched recursively and
// their images sorted by path (codepoint order, so the order does not depend on the locale).

import { readdirSync, realpathSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { printable } from '../printable.js';
import { ImageError } from './decode.js';

/** Extensions of the formats the decoder reads (no BMP: sharp's libvips build has no loader for it). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());
}

/**
 * Image files under the given directories (recursive, sorted) and the given files (kept in argument
 * order). Dot-files and dot-directories are skipped (macOS `._x.jpg` resource forks are not images).
 */
export function listImageFiles(dirOrFiles: string | readonly string[]): string[] {
  const args = typeof dirOrFiles === 'string' ? [dirOrFiles] : dirOrFiles;
  const out: string[] = [];
  for (const arg of args) {
    let isDir: boolean;
    try {
      isDir = statSync(arg).isDirectory();
    } catch {
      throw new ImageError(`${arg}: no such file or directory`);
    }
    if (!isDir) {
      if (!isImagePath(arg)) throw new ImageError(`${arg}: not an image file (extensions: ${IMAGE_EXTENSIONS.join(' ')})`);
      out.push(arg);
      continue;
    }
    const found: string[] = [];
    walk(arg, found, new Set());
    if (found.length === 0) throw new ImageError(`${arg}: no image files found (extensions: ${IMAGE_EXTENSIONS.join(' ')})`);
    out.push(...found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return out;
}

function walk(dir: string, found: string[], visited: Set<string>): void {
  // Symlinked directories are followed once each, so a link cycle cannot recurse forever.
  const real = realpathSync(dir);
  if (visited.has(real)) return;
  visited.add(real);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    let st;
    try {
      st = statSync(path);
    } catch {
      // Node decodes names as UTF-8, replacing invalid bytes with U+FFFD, so such a file cannot be
      // opened by the name it is listed under; say so rather than skip it silently.
      if (entry.name.includes('\ufffd')) process.stderr.write(`rcae: warning: ${printable(path)}: file name is not valid UTF-8; skipped\n`);
      continue; // else a dangling symlink
    }
    if (st.isDirectory()) walk(path, found, visited);
    else if (st.isFile() && isImagePath(entry.name)) found.push(path);
  }
}
