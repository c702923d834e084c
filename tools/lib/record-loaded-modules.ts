/**
 * Preloaded with `node --import` into a process whose dependencies are to be recorded (the CDK app, by
 * tools/lib/app-packages.ts): every module Node loads from a file, ESM or CommonJS, through `import` or
 * `require`, is noted with its format, and the list is written as JSON to $RECORD_LOADED_MODULES_TO on exit.
 * It imports nothing but Node built-ins, so it adds nothing to what it records.
 */
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const target = process.env.RECORD_LOADED_MODULES_TO;
if (!target) throw new Error('record-loaded-modules: set RECORD_LOADED_MODULES_TO to the file to write');

const loaded = new Map<string, string>();
registerHooks({
  load(url, context, nextLoad) {
    const result = nextLoad(url, context);
    if (url.startsWith('file:')) loaded.set(url, String(result.format ?? 'unknown'));
    return result;
  },
});
process.on('exit', () => {
  writeFileSync(target, JSON.stringify([...loaded].map(([url, format]) => ({ url, format }))));
});
