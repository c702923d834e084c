import { createRequire } from 'node:module';
import type { LicenseAllowlist, LicensePolicy } from './license-policy.ts';

/**
 * Judges the components of a CycloneDX SBOM against a license policy. A component passes when every license it
 * declares is an SPDX expression the allowlist satisfies (`A OR B`: either side; `A AND B`: both), or when the
 * policy has an exception for exactly that package version and license. A component without a license, with a
 * license that is not SPDX, or with an expression that does not parse fails: none of those can be judged.
 *
 * Hand-written over spdx-expression-parse's syntax tree (about twenty lines) rather than with spdx-satisfies:
 * the policy is exact identifiers, so the one thing the evaluation needs is the AND/OR walk; `+` (or later) and
 * `WITH` exceptions must be listed literally, which keeps every allowed combination a reviewed line.
 */

type SpdxNode =
  | { readonly license: string; readonly plus?: boolean; readonly exception?: string }
  | { readonly left: SpdxNode; readonly conjunction: 'and' | 'or'; readonly right: SpdxNode };

const parseSpdx = createRequire(import.meta.url)('spdx-expression-parse') as (expression: string) => SpdxNode;

/** A component as the gate sees it: its identity and the licenses it declares, as the SBOM spells them. */
export interface LicensedComponent {
  /** `name@version`, with the npm scope (`@aws-sdk/client-s3@3.1175.0`). */
  readonly package: string;
  /** Each license entry: an SPDX expression or id, or `name:<text>` for a license that is not SPDX. */
  readonly licenses: readonly string[];
  /** True when the SBOM marks it a development-only package (`cdx:npm:package:development`). */
  readonly development: boolean;
}

export interface Violation {
  readonly package: string;
  /** The license as declared, or undefined when the package declares none. */
  readonly license?: string;
  readonly problem: string;
}

interface CdxComponent {
  name?: string;
  group?: string;
  version?: string;
  licenses?: Array<{ expression?: string; license?: { id?: string; name?: string } }>;
  properties?: Array<{ name?: string; value?: string }>;
}

/** The components of CycloneDX JSON, as the gate judges them. */
export function licensedComponents(bomJson: string): LicensedComponent[] {
  const bom = JSON.parse(bomJson) as { bomFormat?: string; components?: CdxComponent[] };
  if (bom.bomFormat !== 'CycloneDX') throw new Error('not a CycloneDX document (bomFormat)');
  return (bom.components ?? []).map((c) => ({
    package: `${c.group ? `${c.group}/` : ''}${c.name}@${c.version}`,
    licenses: (c.licenses ?? []).map((l) =>
      l.expression !== undefined ? l.expression : (l.license?.id ?? `name:${l.license?.name ?? ''}`),
    ),
    development: (c.properties ?? []).some(
      (p) => p.name === 'cdx:npm:package:development' && p.value === 'true',
    ),
  }));
}

/** Whether the allowlist satisfies an SPDX expression; throws when it is not one. */
export function satisfies(expression: string, allowed: LicenseAllowlist): boolean {
  const walk = (node: SpdxNode): boolean => {
    if ('conjunction' in node) {
      return node.conjunction === 'or'
        ? walk(node.left) || walk(node.right)
        : walk(node.left) && walk(node.right);
    }
    const id = `${node.license}${node.plus ? '+' : ''}${node.exception ? ` WITH ${node.exception}` : ''}`;
    return Object.hasOwn(allowed, id);
  };
  return walk(parseSpdx(expression));
}

/** Everything in `components` the policy does not allow, one violation per package and license. */
export function licenseViolations(
  components: readonly LicensedComponent[],
  policy: LicensePolicy,
): Violation[] {
  const violations: Violation[] = [];
  for (const component of components) {
    const excepted = (license: string) =>
      policy.exceptions.some((e) => e.package === component.package && e.license === license);
    if (component.licenses.length === 0) {
      violations.push({ package: component.package, problem: 'declares no license' });
      continue;
    }
    for (const license of component.licenses) {
      if (excepted(license)) continue;
      if (license.startsWith('name:')) {
        violations.push({
          package: component.package,
          license: license.slice('name:'.length),
          problem: 'is not an SPDX license identifier or expression',
        });
        continue;
      }
      let allowed: boolean;
      try {
        allowed = satisfies(license, policy.allowed);
      } catch {
        violations.push({ package: component.package, license, problem: 'is not a valid SPDX expression' });
        continue;
      }
      if (!allowed) {
        violations.push({
          package: component.package,
          license,
          problem: `is not allowed in the ${policy.scope}`,
        });
      }
    }
  }
  return violations;
}

/**
 * Components that package-lock.json marks development-only. `npm audit --omit=dev` does not vet them, so
 * anything shipped or loaded at synth has to be a production dependency.
 */
export function developmentOnly(components: readonly LicensedComponent[], scope: string): Violation[] {
  return components
    .filter((c) => c.development)
    .map((c) => ({
      package: c.package,
      problem: `is in the ${scope} but only a devDependency: \`npm audit --omit=dev\` does not vet it; move it to "dependencies"`,
    }));
}

/** One line per violation, naming the package and its license. */
export function formatViolation(v: Violation): string {
  return v.license === undefined
    ? `${v.package} ${v.problem}`
    : `${v.package}: license "${v.license}" ${v.problem}`;
}
