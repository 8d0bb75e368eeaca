// Reading the project's Markdown the way GitHub renders it: the documents, their relative links
// (outside code), and the anchors their headings make.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

/** The README, every page of docs/, and the other documents the docs link into. */
export function documents(): string[] {
  const docs = readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`);
  return ['README.md', ...docs, 'bench/NOTES.md', 'bench/gpu/README.md', 'tools/README.md'];
}

export const read = (doc: string) => readFileSync(join(repoRoot, doc), 'utf8');

/** The text outside fenced code blocks and inline code spans. */
export function prose(text: string): string {
  return text.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

export interface Link {
  /** Repository-relative path of the target file ('' for an anchor in the same document). */
  path: string;
  anchor: string | null;
  raw: string;
}

/** Every relative link and image of a document, resolved against the document's folder. */
export function relativeLinks(doc: string): Link[] {
  const out: Link[] = [];
  for (const m of prose(read(doc)).matchAll(/\]\(([^)\s]+)\)/g)) {
    const raw = m[1];
    if (/^[a-z]+:/i.test(raw)) continue; // http:, https:, mailto:
    const [file, anchor] = raw.split('#', 2) as [string, string | undefined];
    const path = file === '' ? doc : relative(repoRoot, normalize(join(repoRoot, dirname(doc), file))).split(sep).join('/');
    out.push({ path, anchor: anchor ?? null, raw });
  }
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of text.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = m[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

export const exists = (path: string) => existsSync(join(repoRoot, path));
