// Row output in the three formats the CLI offers. jsonl and csv stream row by row; a table needs
// every row to size its columns, so it is printed at the end. Values may hold text from files
// (names of images and archive members): jsonl keeps them exact in valid JSON with every control
// character escaped, csv and table show them through printable(), csv quoted as RFC 4180 says.
import { printable, terminalJson } from '../printable.js';

export type Format = 'jsonl' | 'csv' | 'table';
export const FORMATS: readonly Format[] = ['jsonl', 'csv', 'table'];

export type Row = Record<string, string | number>;

function csvField(v: string | number): string {
  const s = printable(String(v));
  return /[",]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function cell(v: string | number): string {
  return typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(6) : printable(String(v));
}

export interface RowWriter {
  write(row: Row): void;
  end(): void;
}

export function rowWriter(format: Format, columns: readonly string[], out: (text: string) => void): RowWriter {
  if (format === 'jsonl') {
    return { write: (row) => out(terminalJson(row) + '\n'), end() {} };
  }
  if (format === 'csv') {
    out(columns.join(',') + '\n');
    return { write: (row) => out(columns.map((c) => csvField(row[c] ?? '')).join(',') + '\n'), end() {} };
  }
  const rows: string[][] = [];
  return {
    write: (row) => rows.push(columns.map((c) => cell(row[c] ?? ''))),
    end() {
      const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
      const line = (cells: readonly string[]) => cells.map((v, i) => (i === cells.length - 1 ? v : v.padEnd(widths[i]))).join('  ') + '\n';
      out(line(columns));
      out(line(widths.map((w) => '-'.repeat(w))));
      rows.forEach((r) => out(line(r)));
    },
  };
}
