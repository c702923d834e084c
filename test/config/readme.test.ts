import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../../lib/config/app-config.ts';
import { renderSettingsTable, renderStageTable } from './readme-tables.ts';

/** The README "Configure" section, between its markers. */
function configureSection(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const match = /<!-- section:configure -->([\s\S]*?)<!-- \/section:configure -->/.exec(readme);
  if (!match?.[1]) throw new Error('README.md has no configure section');
  return match[1];
}

describe('README "Configure" matches the code', () => {
  const section = configureSection();

  it('lists exactly the settings bin/ reads, with their context keys and environment variables', () => {
    expect(section).toContain(renderSettingsTable());
  });

  it('shows what differs per stage as the configuration has it', () => {
    expect(section).toContain(renderStageTable(loadAppConfig()));
  });
});
