import { cpSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../lib/config/resolve.ts';

/** Entries of the checkout that a copy never takes: installed, generated, or local to a developer. */
const NOT_COPIED = new Set(['node_modules', '.git', 'cdk.out', 'cdk.json', 'cdk.context.json', 'sbom']);

/**
 * A copy of this checkout in a temporary directory, sharing node_modules (a symlink), with cdk.json's context
 * changed as a user would change it. Entry points run from the copy see only the copy's cdk.json, because they
 * resolve the repository root relative to their own files.
 */
export function copyRepository(prefix: string, context: Readonly<Record<string, unknown>>): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  // `npm run sbom` synthesizes in a temporary .sbom-synth-* directory there, which may vanish mid-copy.
  const copied = readdirSync(PROJECT_ROOT).filter((e) => !NOT_COPIED.has(e) && !e.startsWith('.sbom-synth-'));
  for (const entry of copied) {
    cpSync(path.join(PROJECT_ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8'));
  cdkJson.context = { ...cdkJson.context, ...context };
  writeFileSync(path.join(dir, 'cdk.json'), JSON.stringify(cdkJson, null, 2));
  return dir;
}
