import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Contrib, Enums, Models, Serialize, Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { PROJECT_ROOT } from '../../lib/config/resolve.ts';
import { type InstalledPackage, packageId } from './npm-packages.ts';

/**
 * CycloneDX documents from installed npm packages, with @cyclonedx/cyclonedx-library doing the modelling,
 * serialization and schema validation (its JSON schemas ship with it, and it refuses remote schema loads). This
 * module only decides what goes in: one component per package version, its license from the package's own
 * package.json, its purl, its tarball hash and registry URL from package-lock.json, the paths it is installed at,
 * and the dependency edges between the components (resolved the way Node resolves them from each copy).
 */

/** CycloneDX 1.6: the newest version the common consumers (Dependency-Track, GitHub, Grype) all read. */
export const SPEC_VERSION = Spec.Version.v1dot6;
const SPEC = Spec.Spec1dot6;

// spdx-expression-parse ships no types; this is the one function of it the library's license factory needs.
const spdxParse = createRequire(import.meta.url)('spdx-expression-parse') as (expression: string) => unknown;

const licenseFactory = new Contrib.License.Factories.LicenseFactory(spdxParse);
const externalReferenceFactory = new Contrib.FromNodePackageJson.Factories.ExternalReferenceFactory();
const componentBuilder = new Contrib.FromNodePackageJson.Builders.ComponentBuilder(
  externalReferenceFactory,
  licenseFactory,
);
const toolBuilder = new Contrib.FromNodePackageJson.Builders.ToolBuilder(externalReferenceFactory);

/** Namespace of this project's own CycloneDX properties. */
export const PROPERTY_PREFIX = 's3-object-processor';

/** What the document describes: its root component. */
export interface SbomSubject {
  readonly name: string;
  readonly group?: string;
  readonly version: string;
  readonly description: string;
  readonly type: Enums.ComponentType;
  /** Files whose SHA-256 and SHA-512 become the root component's hashes (the first) or properties (the rest). */
  readonly files?: readonly string[];
  readonly properties?: Readonly<Record<string, string>>;
  /** Package names the subject depends on directly (its package.json dependencies). */
  readonly directDependencies?: readonly string[];
}

/** SHA-256 and SHA-512 of a file, hex. */
export function fileHashes(file: string): { 'SHA-256': string; 'SHA-512': string } {
  const bytes = readFileSync(file);
  return {
    'SHA-256': createHash('sha256').update(bytes).digest('hex'),
    'SHA-512': createHash('sha512').update(bytes).digest('hex'),
  };
}

/** The npm purl of a package version: `pkg:npm/%40scope/name@version`. */
export function npmPurl(name: string, version: string): string {
  const [namespace, bare] = name.startsWith('@') ? name.split('/', 2) : [undefined, name];
  return new PackageURL('npm', namespace, bare ?? name, version).toString();
}

/**
 * The package directory Node would load `dependency` from when required inside `fromDir`: the nearest
 * `node_modules/<dependency>` walking up to the project root.
 */
function resolvePackageDir(fromDir: string, dependency: string, root: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', dependency);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.relative(root, dir) === '' || dir === path.dirname(dir)) return undefined;
    dir = path.dirname(dir);
  }
}

function dependencyNames(packageJson: Readonly<Record<string, unknown>>): string[] {
  const names = new Set<string>();
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
    const deps = packageJson[field];
    if (deps && typeof deps === 'object') for (const name of Object.keys(deps)) names.add(name);
  }
  return [...names];
}

export interface BuildSbomOptions {
  readonly subject: SbomSubject;
  /** The installed package copies the subject contains; copies of one version become one component. */
  readonly packages: readonly InstalledPackage[];
  /** @default the project root */
  readonly root?: string;
  /** @default now */
  readonly timestamp?: Date;
}

/** A CycloneDX BOM of `packages`, described as the contents of `subject`. */
export function buildSbom(options: BuildSbomOptions): Models.Bom {
  const root = options.root ?? PROJECT_ROOT;
  const { subject } = options;
  const bom = new Models.Bom({ serialNumber: Contrib.Bom.Utils.randomSerialNumber() });
  bom.metadata.timestamp = options.timestamp ?? new Date();
  bom.metadata.lifecycles.add(Enums.LifecyclePhase.Build);
  const libraryTool = toolBuilder.makeTool(
    JSON.parse(
      readFileSync(
        createRequire(import.meta.url).resolve('@cyclonedx/cyclonedx-library/package.json'),
        'utf8',
      ),
    ),
  );
  if (libraryTool) bom.metadata.tools.tools.add(libraryTool);

  const rootComponent = new Models.Component(subject.type, subject.name, {
    bomRef: subject.group ? `${subject.group}/${subject.name}` : subject.name,
    ...(subject.group ? { group: subject.group } : {}),
    version: subject.version,
    description: subject.description,
  });
  const [mainFile, ...otherFiles] = subject.files ?? [];
  if (mainFile) {
    for (const [algorithm, hex] of Object.entries(fileHashes(mainFile))) {
      rootComponent.hashes.set(algorithm as Enums.HashAlgorithm, hex);
    }
  }
  for (const file of otherFiles) {
    rootComponent.properties.add(
      new Models.Property(`${PROPERTY_PREFIX}:sha256:${path.basename(file)}`, fileHashes(file)['SHA-256']),
    );
  }
  for (const [name, value] of Object.entries(subject.properties ?? {})) {
    rootComponent.properties.add(new Models.Property(`${PROPERTY_PREFIX}:${name}`, value));
  }
  bom.metadata.component = rootComponent;

  // One component per package version; every installed copy is listed as a path of it.
  const byId = new Map<string, { component: Models.Component; copies: InstalledPackage[] }>();
  const componentOfDir = new Map<string, Models.Component>();
  for (const pkg of options.packages) {
    const id = packageId(pkg);
    let entry = byId.get(id);
    if (!entry) {
      entry = { component: makeComponent(pkg), copies: [] };
      byId.set(id, entry);
      bom.components.add(entry.component);
    }
    entry.copies.push(pkg);
    entry.component.properties.add(new Models.Property('cdx:npm:package:path', pkg.lockPath));
    componentOfDir.set(path.join(root, pkg.lockPath), entry.component);
  }
  // `npm audit --omit=dev` vets a version when any of its copies is a production one.
  for (const { component, copies } of byId.values()) {
    if (copies.every((c) => c.lock.dev === true)) {
      component.properties.add(new Models.Property('cdx:npm:package:development', 'true'));
    }
  }

  for (const pkg of options.packages) {
    const dir = path.join(root, pkg.lockPath);
    const from = componentOfDir.get(dir);
    for (const name of dependencyNames(pkg.packageJson)) {
      const resolved = resolvePackageDir(dir, name, root);
      const to = resolved === undefined ? undefined : componentOfDir.get(resolved);
      if (from && to && to !== from) from.dependencies.add(to.bomRef);
    }
  }
  for (const name of subject.directDependencies ?? []) {
    const to = componentOfDir.get(path.join(root, 'node_modules', name));
    if (to) rootComponent.dependencies.add(to.bomRef);
  }
  return bom;
}

function makeComponent(pkg: InstalledPackage): Models.Component {
  // The builder reads `dist` the way the registry's packument carries it; package-lock.json has the same facts.
  const data = {
    ...pkg.packageJson,
    ...(pkg.lock.resolved ? { dist: { tarball: pkg.lock.resolved, integrity: pkg.lock.integrity } } : {}),
  };
  const component = componentBuilder.makeComponent(data, Enums.ComponentType.Library);
  if (!component) throw new Error(`${pkg.lockPath}/package.json cannot be described as a component`);
  const purl = npmPurl(pkg.name, pkg.version);
  component.purl = purl;
  component.bomRef.value = purl;
  if (pkg.lock.integrity) {
    component.hashes.set(...Contrib.FromNodePackageJson.Utils.parsePackageIntegrity(pkg.lock.integrity));
  }
  if (pkg.lock.inBundle) component.properties.add(new Models.Property('cdx:npm:package:bundled', 'true'));
  return component;
}

const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(SPEC));

/** The BOM as CycloneDX JSON, lists sorted so that two runs over the same inputs differ only in serial and time. */
export function serializeSbom(bom: Models.Bom): string {
  return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
}

// One instance: it compiles the schema on first use (the costly part) and keeps it.
const validator = new Validation.JsonStrictValidator(SPEC_VERSION);

/**
 * Validates CycloneDX JSON against the spec's strict JSON schema, offline: the library reads the schemas from
 * its own `res/` directory and its ajv setup throws on any remote `$ref`. Returns the schema errors, or null.
 */
export async function validateSbom(json: string): Promise<null | unknown[]> {
  const errors = await validator.validate(json);
  return errors === null ? null : (errors as unknown[]);
}
