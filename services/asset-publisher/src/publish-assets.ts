/**
 * The asset publisher the pipeline's Assets stage runs: the `cdk-assets` command line (`ls`, `publish`) over
 * @aws-cdk/cdk-assets-lib, the library the CDK CLI itself publishes with.
 *
 * Why not the `cdk-assets` package CDK Pipelines installs: its newest release (4.7.3) bundles a cloud-assembly
 * schema that reads manifests up to version 54, while aws-cdk-lib 2.276 writes 55, so it could not read a single
 * asset manifest of this app. Why not `cdk publish-assets` of the pinned CLI: it first assumes each stage's CDK
 * *deploy* role to check the bootstrap version, and the asset role would then need to assume roles that can
 * deploy stacks; publishing needs only the file-publishing roles. This CLI keeps cdk-assets' contract exactly (the
 * manifest names the bucket, key and role of each destination) with the library version package-lock.json pins.
 *
 * The synth bundles cli.ts with its dependencies into the cloud assembly (lib/pipeline/asset-publishing.ts),
 * because the Assets action receives only the assembly: nothing is installed from the registry at publish time.
 */
import { parseArgs } from 'node:util';
import {
  AssetManifest,
  AssetPublishing,
  DefaultAwsClient,
  DestinationPattern,
  EventType,
  type IPublishProgress,
} from '@aws-cdk/cdk-assets-lib';

export const USAGE = `Usage: publish-assets --path <assets.json|dir> [--verbose] <ls | publish [ASSET[:DEST]...]>

  ls        list the assets (and destinations) of the manifest
  publish   publish the selected assets (all when none is given) to their destinations; an asset already
            present is not uploaded again. A selector that matches nothing is an error, so a pipeline whose
            buildspec and manifests disagree fails instead of publishing nothing.

Credentials: the default AWS chain; each destination's role (assumeRoleArn in the manifest) is assumed from it.`;

/** Event types that are progress detail rather than outcome: printed only with --verbose. */
const DETAIL_EVENTS: ReadonlySet<EventType> = new Set([
  EventType.BUILD,
  EventType.CACHED,
  EventType.CHECK,
  EventType.DEBUG,
  EventType.FOUND,
  EventType.UPLOAD,
  EventType.SHELL_OPEN,
  EventType.SHELL_STDOUT,
  EventType.SHELL_STDERR,
  EventType.SHELL_CLOSE,
]);

export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const consoleIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Runs the command line; returns the exit code (2: usage, 1: a manifest or an asset failed). */
export async function main(argv: readonly string[], io: Io = consoleIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.err(`error: ${(error as Error).message}`);
    io.err(USAGE);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [command, ...selectors] = positionals;
  if (command !== 'ls' && command !== 'publish') {
    io.err(
      `error: expected the command ls or publish, got ${command === undefined ? 'nothing' : `"${command}"`}`,
    );
    io.err(USAGE);
    return 2;
  }
  if (command === 'ls' && selectors.length > 0) {
    io.err('error: ls takes no asset selectors');
    return 2;
  }

  let manifest: AssetManifest;
  try {
    manifest = AssetManifest.fromPath(values.path ?? '.');
  } catch (error) {
    // A schema version the library cannot read lands here, in one line naming the manifest.
    io.err(`error: ${(error as Error).message}`);
    return 1;
  }
  if (command === 'ls') {
    for (const line of manifest.list()) io.out(line);
    return 0;
  }

  for (const selector of selectors) {
    const pattern = DestinationPattern.parse(selector);
    if (!manifest.entries.some((entry) => pattern.matches(entry.id))) {
      io.err(`error: "${selector}" matches no asset destination in ${values.path ?? '.'}`);
      return 1;
    }
  }
  const selected =
    selectors.length === 0 ? manifest : manifest.select(selectors.map((s) => DestinationPattern.parse(s)));
  const publishing = new AssetPublishing(selected, {
    aws: new DefaultAwsClient(),
    throwOnError: false,
    progressListener: {
      onPublishEvent: (type: EventType, event: IPublishProgress) => {
        if (DETAIL_EVENTS.has(type) && !values.verbose) return;
        const line = `[${String(Math.round(event.percentComplete)).padStart(3)}%] ${type}: ${event.message}`;
        (type === EventType.FAIL ? io.err : io.out)(line);
      },
    },
  });
  await publishing.publish();
  for (const failure of publishing.failures) {
    io.err(`error: ${failure.asset.id.toString()}: ${failure.error.message}`);
  }
  return publishing.hasFailures ? 1 : 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      path: { type: 'string', short: 'p' },
      verbose: { type: 'boolean', short: 'v', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
