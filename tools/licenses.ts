/**
 * The license gate: checks the SBOMs `npm run sbom` wrote against the reviewed policy (tools/lib/license-policy.ts)
 * and fails naming each package whose license the policy does not allow. It also fails when a shipped or
 * synth-time package is a devDependency, which `npm audit --omit=dev` would not vet.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Io, parseCommandArgs, runTool, ToolError } from './lib/cli.ts';
import {
  developmentOnly,
  formatViolation,
  type LicensedComponent,
  licensedComponents,
  licenseViolations,
  type Violation,
} from './lib/license-gate.ts';
import { APP_POLICY, FUNCTION_POLICY, type LicensePolicy, PUBLISHER_POLICY } from './lib/license-policy.ts';
import { DEFAULT_SBOM_DIR, SBOM_FILES } from './lib/sbom-files.ts';

export const LICENSES_HELP = `Usage: npm run licenses -- [options]

Checks the SBOMs of \`npm run sbom\` against the license policy (tools/lib/license-policy.ts):
  ${SBOM_FILES.function}   against the function allowlist (permissive licenses only)
  ${SBOM_FILES.app}        against the looser CDK app allowlist
  ${SBOM_FILES.publisher}  against the CDK app allowlist too (build tooling the pipeline runs, never deployed)
Fails (exit 1) naming every package whose license the policy does not allow, that declares none, or that is a
devDependency (which \`npm audit --omit=dev\` would not vet). Prints the licenses found.

Options:
  --sbom <dir>   where the SBOMs are (default: sbom/)
  --json         print the result as JSON
  -h, --help     this text`;

export interface ScopeResult {
  readonly file: string;
  readonly components: number;
  /** License (as declared) -> number of components declaring it. */
  readonly licenses: Record<string, number>;
  readonly violations: Violation[];
}

/** Judges one SBOM file against one policy. */
export function checkSbom(file: string, policy: LicensePolicy): ScopeResult {
  if (!existsSync(file)) throw new ToolError(`${file} does not exist: run \`npm run sbom\` first`);
  let components: LicensedComponent[];
  try {
    components = licensedComponents(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ToolError(`${file} is not a CycloneDX SBOM: ${(error as Error).message}`);
  }
  const licenses: Record<string, number> = {};
  for (const c of components) {
    // A package may declare one license twice (`license` and the legacy `licenses` list): counted once.
    for (const l of new Set(c.licenses.length > 0 ? c.licenses : ['(none)']))
      licenses[l] = (licenses[l] ?? 0) + 1;
  }
  return {
    file,
    components: components.length,
    licenses,
    violations: [...licenseViolations(components, policy), ...developmentOnly(components, policy.scope)],
  };
}

export async function licenses(argv: readonly string[], io: Io): Promise<number> {
  const args = parseCommandArgs(argv, { sbom: { type: 'string' }, json: { type: 'boolean' } });
  if (args.help) {
    io.out(LICENSES_HELP);
    return 0;
  }
  const dir = path.resolve(args.sbom ?? DEFAULT_SBOM_DIR);
  const policies = { function: FUNCTION_POLICY, app: APP_POLICY, publisher: PUBLISHER_POLICY } as const;
  const scopes = Object.keys(policies) as (keyof typeof policies)[];
  const results = Object.fromEntries(
    scopes.map((scope) => [scope, checkSbom(path.join(dir, SBOM_FILES[scope]), policies[scope])]),
  ) as Record<keyof typeof policies, ScopeResult>;
  const failed = Object.values(results).some((r) => r.violations.length > 0);
  if (args.json) {
    io.out(JSON.stringify({ ok: !failed, ...results }, null, 2));
    return failed ? 1 : 0;
  }
  for (const scope of scopes) {
    const policy = policies[scope];
    const r = results[scope];
    const found = Object.entries(r.licenses)
      .sort(([, a], [, b]) => b - a)
      .map(([l, n]) => `${l} (${n})`)
      .join(', ');
    io.out(`${policy.scope}: ${r.components} components; licenses: ${found}`);
    for (const v of r.violations) io.out(`  FAIL ${formatViolation(v)}`);
  }
  if (failed) {
    io.out(
      'Fix: replace the package, or after review allow it in tools/lib/license-policy.ts (docs/supply-chain.md).',
    );
  }
  return failed ? 1 : 0;
}

if (import.meta.main) await runTool(licenses);
