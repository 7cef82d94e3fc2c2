import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/** One heading's part of a committed markdown file: its prose, pipe tables and fenced blocks. */
export interface Section {
  heading: string;
  text: string;
  /** Each table as rows of cells, the header row first (the `---` row dropped). */
  tables: string[][][];
  fences: string[];
}

/** A committed result file, read by its path in the repository. */
export interface SourceFile {
  path: string;
  sections: Section[];
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

export function readSource(path: string): SourceFile {
  const text = readFileSync(join(repoRoot, path), 'utf8');
  const sections: Section[] = [];
  let current: Section = { heading: '', text: '', tables: [], fences: [] };
  let table: string[][] | undefined;
  let fence: string[] | undefined;
  for (const line of text.split('\n')) {
    if (fence) {
      if (line.startsWith('```')) {
        current.fences.push(fence.join('\n'));
        fence = undefined;
      } else fence.push(line);
      continue;
    }
    if (line.startsWith('```')) {
      fence = [];
      continue;
    }
    if (line.startsWith('|')) {
      if (!table) current.tables.push((table = []));
      if (!/^\|[\s:|-]+\|$/.test(line.trim())) table.push(cells(line));
      continue;
    }
    table = undefined;
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) {
      sections.push(current);
      current = { heading: heading[1]!, text: '', tables: [], fences: [] };
    } else current.text += `${line}\n`;
  }
  sections.push(current);
  return { path, sections };
}

/**
 * The section whose heading matches, and the command that made its numbers, which must appear in
 * the file: when either moves, the docs build fails instead of quoting stale numbers.
 */
export function section(source: SourceFile, heading: RegExp, command: string): Section {
  const found = source.sections.find((s) => heading.test(s.heading));
  if (!found) throw new Error(`${source.path}: no section heading matches ${heading}`);
  const whole = source.sections.map((s) => `${s.text}\n${s.fences.join('\n')}`).join('\n');
  if (!whole.includes(command))
    throw new Error(`${source.path}: the command "${command}" is not in the file`);
  return found;
}

/** A number from a result cell: "1,068", "**0.86**", "4.27 ms", "100.00%". */
export function numberIn(cell: string): number {
  const match = /-?\d[\d,]*(?:\.\d+)?/.exec(cell.replace(/\*/g, ''));
  if (!match) throw new Error(`no number in "${cell}"`);
  return Number(match[0].replace(/,/g, ''));
}
