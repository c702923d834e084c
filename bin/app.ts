/**
 * CDK app entry (cdk.json: `node --import ./bin/require-node.mjs bin/app.ts`: the Node version guard, then this).
 * Settings come from cdk.json context, `-c key=value` and environment variables (see lib/config/app-input.ts and
 * lib/config/resolve.ts and README "Deploy"); with none at all it synthesizes against the documented placeholder
 * accounts, so `npx cdk synth` works on a machine with no AWS credentials.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../lib/config/app-config.ts';
import { buildApp } from './build-app.ts';

const app = new App();
try {
  buildApp(app, process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // A configuration mistake is the user's to fix, not a crash: print the problems, not a stack trace.
  console.error(error.message);
  process.exit(1);
}
app.synth();
