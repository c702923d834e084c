import { describe, expect, it } from 'vitest';
import { ConfigError, loadAppConfig, STAGE_NAMES, stageByName } from '../../lib/config/app-config.ts';
import { type Environment, resolveInput, SANDBOX_SETTING, SETTINGS } from '../../lib/config/app-input.ts';

const noContext = () => undefined;
const contextOf =
  (values: Record<string, unknown>) =>
  (key: string): unknown =>
    values[key];

/** Resolves settings and loads the config the way bin/build-app.ts does. */
function load(context: Record<string, unknown>, env: Environment) {
  const resolved = resolveInput(contextOf(context), env);
  try {
    return loadAppConfig(resolved.input);
  } catch (error) {
    throw resolved.explain(error);
  }
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('the settings table', () => {
  it('gives every setting a distinct context key and environment variable', () => {
    const contexts = SETTINGS.map((s) => s.context);
    const envs = SETTINGS.map((s) => s.env);
    expect(new Set(contexts).size).toBe(contexts.length);
    expect(new Set(envs).size).toBe(envs.length);
    expect(contexts).not.toContain(SANDBOX_SETTING.context);
    for (const s of SETTINGS) expect(s.env).toMatch(/^[A-Z][A-Z0-9_]+$/);
  });

  it('reaches every field bin/ may override: each stage override and each pipeline field', () => {
    const context: Record<string, unknown> = {};
    for (const stage of STAGE_NAMES) {
      Object.assign(context, {
        [`${stage}Account`]: '123456789012',
        [`${stage}Region`]: 'us-east-1',
        [`${stage}AlarmEmail`]: `${stage}@example.com`,
        [`${stage}IntegTestTrustedAccount`]: '210987654321',
      });
    }
    Object.assign(context, {
      project: 'files',
      toolingAccount: '100000000001',
      toolingRegion: 'eu-north-1',
      repository: 'acme/files',
      branch: 'release',
      connectionArn: 'arn:aws:codeconnections:eu-north-1:100000000001:connection/abc',
      notificationEmail: 'release@example.com',
      prodBakeMinutes: 30,
      alarmGates: false,
    });

    const config = load(context, {});

    expect(config.project).toBe('files');
    expect(config.pipeline).toEqual({
      account: '100000000001',
      region: 'eu-north-1',
      repository: 'acme/files',
      branch: 'release',
      connectionArn: 'arn:aws:codeconnections:eu-north-1:100000000001:connection/abc',
      notificationEmail: 'release@example.com',
      prodBakeMinutes: 30,
      alarmGates: false,
    });
    // prodBakeMinutes is the bake time of the stage promoted into prod.
    expect(stageByName(config, 'staging').deployment.bakeMinutes).toBe(30);
    expect(stageByName(config, 'dev').deployment.bakeMinutes).toBe(0);
    for (const stage of STAGE_NAMES) {
      expect(stageByName(config, stage)).toMatchObject({
        account: '123456789012',
        region: 'us-east-1',
        alarms: expect.objectContaining({ email: `${stage}@example.com` }),
        integTestTrustedAccount: '210987654321',
      });
    }
  });
});

describe('resolveInput', () => {
  it('reads a boolean setting from context (true/false) or the environment ("true"/"false"), and nothing else', () => {
    expect(load({ alarmGates: false }, {}).pipeline.alarmGates).toBe(false);
    expect(load({ alarmGates: false }, { ALARM_GATES: 'true' }).pipeline.alarmGates).toBe(true);
    expect(load({}, {}).pipeline.alarmGates).toBe(true);
    const error = configError(() => resolveInput(noContext, { ALARM_GATES: 'yes' }));
    expect(error.problems).toEqual([
      'pipeline: alarmGates must be true or false (from environment variable ALARM_GATES="yes")',
    ]);
  });

  it('with no context and no environment, yields the documented defaults', () => {
    expect(load({}, {})).toEqual(loadAppConfig());
    expect(resolveInput(noContext, {}).sandboxStage).toBeUndefined();
  });

  it('lets an environment variable override the context key, and context override the default', () => {
    const context = {
      devAccount: '200000000002',
      stagingAccount: '300000000003',
      toolingRegion: 'us-west-2',
    };
    const config = load(context, { DEV_ACCOUNT: '500000000005', DEV_REGION: 'ap-southeast-2' });

    expect(stageByName(config, 'dev')).toMatchObject({ account: '500000000005', region: 'ap-southeast-2' });
    expect(stageByName(config, 'staging')).toMatchObject({ account: '300000000003', region: 'us-west-2' });
    expect(stageByName(config, 'prod').account).toBe(loadAppConfig().stages[2]?.account);
    expect(config.pipeline.region).toBe('us-west-2');
  });

  it('reads integers from text (environment) or numbers (cdk.json)', () => {
    expect(load({ prodBakeMinutes: 15 }, {}).pipeline.prodBakeMinutes).toBe(15);
    expect(load({ prodBakeMinutes: 15 }, { PROD_BAKE_MINUTES: '90' }).pipeline.prodBakeMinutes).toBe(90);
  });

  it('names the stage, the field and the environment variable of a bad value', () => {
    const error = configError(() => load({}, { DEV_ACCOUNT: '12345' }));
    expect(error.problems).toEqual([
      'stage "dev": account is "12345"; must be a 12-digit AWS account id (from environment variable DEV_ACCOUNT="12345")',
    ]);
  });

  it('names the context key of a bad value, and reports every problem at once', () => {
    const error = configError(() =>
      load({ prodAlarmEmail: 'not-an-email', prodBakeMinutes: 5000 }, { STAGING_REGION: 'mars-north-1' }),
    );
    expect(error.problems).toEqual(
      expect.arrayContaining([
        'pipeline: prodBakeMinutes is 5000; must be an integer in 0..1440 (from context key prodBakeMinutes=5000)',
        'stage "staging": region is "mars-north-1"; not a known AWS region (from environment variable STAGING_REGION="mars-north-1")',
        'stage "prod": alarms.email is "not-an-email"; not an e-mail address (from context key prodAlarmEmail="not-an-email")',
      ]),
    );
    expect(error.message).toContain('Invalid configuration');
  });

  it('rejects non-numeric integers with the range, not a silent default', () => {
    const error = configError(() => load({}, { PROD_BAKE_MINUTES: 'an hour' }));
    expect(error.problems[0]).toMatch(
      /^pipeline: prodBakeMinutes is NaN; must be an integer in 0\.\.1440 \(from environment variable PROD_BAKE_MINUTES="an hour"\)$/,
    );
  });

  it('rejects a cdk.json value of the wrong JSON type before loading anything', () => {
    const error = configError(() => resolveInput(contextOf({ devAccount: 222222222222 }), {}));
    expect(error.problems).toEqual([
      'stage "dev": account must be a string (from context key devAccount=222222222222)',
    ]);
  });

  it('rejects a project name that cannot prefix stack names', () => {
    const error = configError(() => resolveInput(noContext, { PROJECT_NAME: 'My_Project' }));
    expect(error.problems[0]).toMatch(
      /^project is "My_Project"; must be 2-40 lowercase.*PROJECT_NAME="My_Project"/,
    );
  });

  it('reads the sandbox stage from the environment first, then context', () => {
    expect(resolveInput(contextOf({ sandbox: 'staging' }), {}).sandboxStage).toBe('staging');
    expect(resolveInput(contextOf({ sandbox: 'staging' }), { SANDBOX_STAGE: 'dev' }).sandboxStage).toBe(
      'dev',
    );
  });

  it('passes errors that are not configuration errors through unchanged', () => {
    const boom = new Error('boom');
    expect(resolveInput(noContext, {}).explain(boom)).toBe(boom);
  });
});
