// Plain JavaScript on purpose: it must run on any Node.js to say which one the project needs. Node runs it first
// (`node --import ./bin/require-node.mjs <entry>.ts`, as cdk.json and package.json do; vitest.config.ts imports
// it), so an older Node stops here with one line instead of failing to load TypeScript with a stack trace.
import { readFileSync } from 'node:fs';

const { name, engines } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const required = Number(/\d+/.exec(engines.node)?.[0]);
const running = Number(process.versions.node.split('.')[0]);
if (running !== required) {
  console.error(
    `${name} runs on Node.js ${required} (package.json "engines"), not ${process.version} (${process.execPath}): run it through npm or npx, which use the Node.js ${required} that npm ci installs in node_modules/.bin, or put Node.js ${required} first on PATH.`,
  );
  process.exit(1);
}
