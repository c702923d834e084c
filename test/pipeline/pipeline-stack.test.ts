import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { NagPack } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GRANTS_ONLY_FOR_AWS_RESOURCES } from '../../lib/compliance/kms-grants.ts';
import { nagPacks } from '../../lib/compliance/nag.ts';
import { loadAppConfig } from '../../lib/config/app-config.ts';
import {
  INTEG_ENV,
  OUTPUT_KEYS,
  PIPELINE_ACTIONS,
  PIPELINE_STAGES,
  stageActions,
  stageConditionRules,
  stageId,
} from '../../lib/config/names.ts';
import type { AppConfig, StageConfig } from '../../lib/config/stage-config.ts';
import { ARTIFACT_RETENTION_DAYS } from '../../lib/pipeline/artifact-retention.ts';
import { ASSET_PUBLISHER } from '../../lib/pipeline/asset-publishing.ts';
import { BUILD_IMAGE, NPM_CACHE_PATH, NPM_CI } from '../../lib/pipeline/build-environment.ts';
import { pipelineAcknowledgements } from '../../lib/pipeline/nag-acknowledgements.ts';
import { PipelineStack, SYNTH_COMMANDS } from '../../lib/pipeline/pipeline-stack.ts';
import { POST_DEPLOY_BUILDSPEC_FILE } from '../../lib/pipeline/post-deploy-buildspec.ts';
import { SBOM_DIRECTORY, SUPPLY_CHAIN_GATE_COMMANDS } from '../../lib/pipeline/supply-chain-gates.ts';
import { CDK_CLI_VERSION } from '../../lib/pipeline/tool-versions.ts';
import type { ProcessorStage } from '../../lib/stages/processor-stage.ts';
import { TEST_APP_CONTEXT } from '../support/test-app.ts';

// One synth for the whole file: a pipeline with every optional feature on (bake time, e-mail).
// Bundling is skipped: the pipeline only needs the stages' asset manifests, not the bundle bytes.
const BAKE_MINUTES = 45;
const EMAIL = 'release-team@example.com';
let outdir: string;
let config: AppConfig;
let stack: PipelineStack;
let template: Template;
let resources: Record<string, Resource>;

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON, walked dynamically; the assertions check its shape.
type Json = any;
interface Resource {
  Type: string;
  Properties: Record<string, Json>;
}
interface Action {
  Name: string;
  RunOrder: number;
  Namespace?: string;
  ActionTypeId: { Category: string; Provider: string };
  Configuration: Record<string, Json>;
  RoleArn?: unknown;
}
interface PipelineStage {
  Name: string;
  Actions: Action[];
}

beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'pipeline-test-'));
  const app = new App({ outdir, context: TEST_APP_CONTEXT });
  config = loadAppConfig({ pipeline: { prodBakeMinutes: BAKE_MINUTES, notificationEmail: EMAIL } });
  stack = new PipelineStack(app, 'ProcessorPipeline', { config });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources;
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const accountsOf = (c: AppConfig) => new Set([c.pipeline.account, ...c.stages.map((s) => s.account)]);
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const pipelineStages = (): PipelineStage[] => {
  const [[, pipeline]] = ofType('AWS::CodePipeline::Pipeline') as [[string, Resource]];
  return pipeline.Properties.Stages;
};
const stage = (name: string) => {
  const found = pipelineStages().find((s) => s.Name === name);
  if (!found) throw new Error(`no pipeline stage ${name}`);
  return found;
};
const action = (stageName: string, name: string) => {
  const found = stage(stageName).Actions.find((a) => a.Name === name);
  if (!found) throw new Error(`no action ${name} in ${stageName}`);
  return found;
};
/** The CodeBuild project an action runs. */
const projectOf = (a: Action): Resource => {
  const ref = a.Configuration.ProjectName as { Ref: string };
  const project = resources[ref.Ref];
  if (!project) throw new Error(`no project for ${a.Name}`);
  return project;
};
/** The role (and its inline policies' statements) a CodeBuild project runs as. */
const statementsOfProjectRole = (project: Resource): Json[] => {
  const roleId = project.Properties.ServiceRole['Fn::GetAtt'][0] as string;
  return ofType('AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
};
const buildSpecOf = (project: Resource): Json => {
  const spec = project.Properties.Source.BuildSpec;
  const text = typeof spec === 'string' ? spec : joinLiteral(spec);
  // Asset-publishing buildspecs are written next to the template and referenced by file name.
  return text.startsWith('{') ? JSON.parse(text) : parse(readFileSync(path.join(outdir, text), 'utf8'));
};
/** Flattens an Fn::Join or Fn::Sub whose only tokens are pseudo parameters, written as <AWS::X> (as cdk-nag does). */
function joinLiteral(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(joinLiteral).join(join[0]);
  const ref = (value as { Ref?: string }).Ref;
  if (ref?.startsWith('AWS::')) return `<${ref}>`;
  const sub = (value as { 'Fn::Sub'?: unknown })['Fn::Sub'];
  if (typeof sub === 'string') return sub.replace(/\$\{(AWS::\w+)\}/g, '<$1>');
  throw new Error(`not a literal: ${JSON.stringify(value)}`);
}
const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
const accountOfArn = (arn: string) => arn.replaceAll('<AWS::Partition>', 'aws').split(':')[4];

/**
 * The Synth action's output artifacts, matched to the directories its buildspec exports under their names:
 * the cloud assembly (what self-mutation and the deploys read) and the SBOMs. Fails unless both are wired,
 * from the action's OutputArtifacts to the buildspec's secondary artifacts.
 */
function synthOutputs(
  pipelineTemplate: Json,
): Record<'cloudAssembly' | 'sboms', { artifact: string; directory: string }> {
  const all = Object.values(pipelineTemplate.Resources as Record<string, Resource>);
  const pipeline = all.find((r) => r.Type === 'AWS::CodePipeline::Pipeline');
  const synth = (pipeline?.Properties.Stages as PipelineStage[] | undefined)
    ?.find((s) => s.Name === 'Build')
    ?.Actions.find((a) => a.Name === 'Synth') as
    | (Action & { OutputArtifacts?: { Name: string }[] })
    | undefined;
  if (!synth) throw new Error('no Synth action in the Build stage');
  const project = pipelineTemplate.Resources[(synth.Configuration.ProjectName as { Ref: string }).Ref];
  if (!project) throw new Error('no CodeBuild project for the Synth action');
  type Exported = { 'base-directory'?: string; files?: string | string[] };
  const artifacts = (buildSpecOf(project).artifacts ?? {}) as Exported & {
    'secondary-artifacts'?: Record<string, Exported>;
  };
  const declared = synth.OutputArtifacts ?? [];
  const outputs = declared.map(({ Name }) => {
    // Several outputs are secondary artifacts, by name; a single one may be the buildspec's primary artifact.
    const exported =
      artifacts['secondary-artifacts']?.[Name] ?? (declared.length === 1 ? artifacts : undefined);
    if (!exported?.['base-directory'] || !asArray(exported.files ?? []).includes('**/*')) {
      throw new Error(`output artifact ${Name} of the Synth action is not exported by its buildspec`);
    }
    return { artifact: Name, directory: exported['base-directory'] };
  });
  const byDirectory = (directory: string) => {
    const found = outputs.find((o) => o.directory === directory);
    if (!found) throw new Error(`the Synth action publishes no artifact of ${directory}/`);
    return found;
  };
  return { cloudAssembly: byDirectory('cdk.out'), sboms: byDirectory(SBOM_DIRECTORY) };
}

describe('pipeline shape', () => {
  it('is a V2 pipeline named after the project, triggered by pushes to the configured branch', () => {
    template.hasResourceProperties('AWS::CodePipeline::Pipeline', {
      PipelineType: 'V2',
      Name: config.project,
    });
    const source = stage('Source').Actions[0];
    expect(source?.ActionTypeId.Provider).toBe('CodeStarSourceConnection');
    expect(source?.Configuration).toMatchObject({
      ConnectionArn: config.pipeline.connectionArn,
      FullRepositoryId: config.pipeline.repository,
      BranchName: config.pipeline.branch,
      DetectChanges: true,
    });
  });

  it('promotes Source -> Build -> UpdatePipeline (self-mutation) -> Assets -> dev -> staging -> prod', () => {
    expect(pipelineStages().map((s) => s.Name)).toEqual([
      'Source',
      'Build',
      'UpdatePipeline',
      'Assets',
      'Dev',
      'Staging',
      'Prod',
    ]);
    const selfMutate = action('UpdatePipeline', 'SelfMutate');
    expect(buildSpecOf(projectOf(selfMutate)).phases.install.commands).toContain(
      `npm install -g aws-cdk@${CDK_CLI_VERSION}`,
    );
  });

  it('takes the CDK CLI it installs from package-lock.json, and installs nothing to publish assets', () => {
    const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8'));
    expect(CDK_CLI_VERSION).toBe(lock.packages['node_modules/aws-cdk'].version);
    const publish = buildSpecOf(projectOf(stage('Assets').Actions[0] as Action));
    expect(publish.phases.install.commands.join('\n')).not.toMatch(/npm install|npx/);
    expect(publish.phases.build.commands.length).toBeGreaterThan(0);
    for (const command of publish.phases.build.commands) {
      expect(command).toMatch(
        new RegExp(`^node ${ASSET_PUBLISHER} --path "[^"]+" --verbose publish "[^"]+"$`),
      );
    }
  });

  it('gates every release on the supply-chain gates, lint, typecheck, tests and synth, in that order', () => {
    const spec = buildSpecOf(projectOf(action('Build', 'Synth')));
    expect(spec.phases.build.commands).toEqual(SYNTH_COMMANDS);
    expect(SYNTH_COMMANDS.slice(2)).toEqual([
      ...SUPPLY_CHAIN_GATE_COMMANDS,
      'npm run lint',
      'npm run typecheck',
      'npm test',
      'npx cdk synth',
    ]);
    expect(synthOutputs(template.toJSON()).cloudAssembly.directory).toBe('cdk.out');
  });

  it.each(['Dev', 'Staging'])(
    '%s: drift check, then deploy into its own account, then integration tests',
    (name) => {
      const stageConfig = config.stages.find((s) => s.stageName === name.toLowerCase());
      const actions = stage(name).Actions;
      const order = (n: string) =>
        actions.find((a) => a.Name === n || a.Name.endsWith(`.${n}`))?.RunOrder ?? -1;
      expect(order('DriftCheck')).toBeLessThan(order('Prepare'));
      expect(order('Prepare')).toBeLessThan(order('Deploy'));
      expect(order('Deploy')).toBeLessThan(order('IntegrationTests'));
      for (const deploy of actions.filter((a) => a.ActionTypeId.Provider === 'CloudFormation')) {
        expect(joinLiteral(deploy.RoleArn)).toBe(
          `arn:<AWS::Partition>:iam::${stageConfig?.account}:role/cdk-hnb659fds-deploy-role-${stageConfig?.account}-${stageConfig?.region}`,
        );
      }
    },
  );

  it('prod: change set, its review, the manual approval and the drift check, in that order, before the change set executes; smoke test after', () => {
    const prod = config.stages.find((c) => c.isProduction);
    if (!prod) throw new Error('no production stage');
    const names = stageActions(config.project, prod);
    const ordered = [...stage('Prod').Actions].sort((a, b) => a.RunOrder - b.RunOrder).map((a) => a.Name);
    expect(ordered).toEqual([
      names.prepare,
      names.review,
      names.approval,
      names.driftCheck,
      names.deploy,
      names.tests,
    ]);
    const runOrders = stage('Prod').Actions.map((a) => a.RunOrder);
    expect(new Set(runOrders).size).toBe(runOrders.length);
    const approvals = stage('Prod').Actions.filter((a) => a.ActionTypeId.Provider === 'Manual');
    expect(approvals.map((a) => a.Name)).toEqual([names.approval]);
    // Non-production stages need no person, and have no change set to review.
    for (const name of ['Dev', 'Staging']) {
      expect(stage(name).Actions.some((a) => a.ActionTypeId.Provider === 'Manual')).toBe(false);
      expect(stage(name).Actions.some((a) => a.Name.endsWith('ReviewChangeSet'))).toBe(false);
    }
    // No bake timer and no permissions-broadening check any more: stage conditions and the review replace them.
    expect(ofType('AWS::StepFunctions::StateMachine')).toEqual([]);
    expect(ofType('AWS::Lambda::Function')).toEqual([]);
  });

  it("prod approval: carries the review's summary and links to its rendering, from the review action's namespace", () => {
    const prod = config.stages.find((c) => c.isProduction);
    if (!prod) throw new Error('no production stage');
    const names = stageActions(config.project, prod);
    const review = action('Prod', names.review ?? '');
    const approval = action('Prod', names.approval ?? '');
    const namespace = (review as Action & { Namespace?: string }).Namespace;
    expect(namespace).toBeDefined();
    expect(approval.Configuration.CustomData).toContain(`#{${namespace}.SUMMARY}`);
    expect(approval.Configuration.ExternalEntityLink).toBe(`#{${namespace}.REVIEW_URL}`);
    const spec = buildSpecOf(projectOf(review));
    expect(spec.env['exported-variables'].sort()).toEqual(['REVIEW_URL', 'SUMMARY']);
    const lookupRole = `arn:<AWS::Partition>:iam::${prod.account}:role/cdk-hnb659fds-lookup-role-${prod.account}-${prod.region}`;
    expect(spec.phases.build.commands.join('\n')).toContain(
      `npm run review-change-set -- --stage prod --stack-name ${config.project}-prod-processor --region ${prod.region} --role-arn ${lookupRole} --out change-review --upload "s3://$REVIEW_BUCKET/change-reviews/prod/$PIPELINE_EXECUTION_ID"`,
    );
    // The review reads as the lookup role and writes only its own prefix of the artifact bucket.
    const statements = statementsOfProjectRole(projectOf(review));
    const assume = statements.filter((st) => asArray(st.Action).includes('sts:AssumeRole'));
    expect(assume.map((st) => joinLiteral(st.Resource))).toEqual([lookupRole]);
    const put = statements.find((st) => st.Sid === 'WriteChangeReview');
    const bucketId = stack.getLogicalId(
      stack.pipeline.pipeline.artifactBucket.node.defaultChild as CfnElement,
    );
    expect(put?.Resource).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/change-reviews/prod/*']],
    });
  });
});

describe('stage conditions', () => {
  type Conditions = { Conditions?: { Result: string; Rules: Json[] }[]; Result?: string };
  const conditionsOf = (name: string) => {
    const s = stage(name) as PipelineStage & {
      BeforeEntry?: Conditions;
      OnSuccess?: Conditions;
      OnFailure?: Conditions;
    };
    return { beforeEntry: s.BeforeEntry, onSuccess: s.OnSuccess, onFailure: s.OnFailure };
  };
  const ruleOf = (watched: (typeof config.stages)[number], waitMinutes?: number) => ({
    RuleTypeId: { Category: 'Rule', Owner: 'AWS', Provider: 'CloudWatchAlarm', Version: '1' },
    Configuration: {
      AlarmName: `${config.project}-${watched.stageName}-health`,
      AlarmStates: 'ALARM',
      ...(waitMinutes ? { WaitTime: String(waitMinutes) } : {}),
    },
    Region: watched.region,
  });
  const gateRole = (watched: (typeof config.stages)[number]) =>
    `arn:<AWS::Partition>:iam::${watched.account}:role/${config.project}-${watched.stageName}-processor-alarm-gate`;
  const lookupRole = (watched: (typeof config.stages)[number]) =>
    `arn:<AWS::Partition>:iam::${watched.account}:role/cdk-hnb659fds-lookup-role-${watched.account}-${watched.region}`;

  /**
   * Entry rules run before the entered stage deploys: on the pipeline's first run nothing of that stage exists yet.
   * Every role an entry rule reads through must therefore come from somewhere else (a stage deployed earlier, or
   * the account's bootstrap). Lists each entry rule that names a role the entered stage's own stacks create.
   */
  const entryRulesOnRolesNotYetCreated = (entered: ProcessorStage, rules: readonly Json[]): string[] => {
    const createdHere = new Set(
      Object.values(Template.fromStack(entered.stack).findResources('AWS::IAM::Role'))
        .map((r) => (r as Resource).Properties.RoleName)
        .filter((name): name is string => typeof name === 'string')
        .map((name) => `:role/${name}`),
    );
    return rules
      .filter((r) => [...createdHere].some((suffix) => joinLiteral(r.RoleArn).endsWith(suffix)))
      .map((r) => `${entered.config.stageName}: ${r.Name}`);
  };

  it('enter staging and prod only while the previous and their own health alarms are not in ALARM', () => {
    const [dev, staging, prod] = config.stages as [StageConfig, StageConfig, StageConfig];
    expect(conditionsOf('Dev').beforeEntry).toBeUndefined();
    for (const [name, previous, own] of [
      ['Staging', dev, staging],
      ['Prod', staging, prod],
    ] as const) {
      const entry = conditionsOf(name).beforeEntry?.Conditions ?? [];
      expect(entry).toHaveLength(1);
      expect(entry[0]?.Result).toBe('FAIL');
      expect(entry[0]?.Rules).toEqual([
        expect.objectContaining(ruleOf(previous)),
        expect.objectContaining(ruleOf(own)),
      ]);
      expect(entry[0]?.Rules.map((r) => joinLiteral(r.RoleArn))).toEqual([
        gateRole(previous),
        lookupRole(own),
      ]);
    }
  });

  it("read, at entry, only through roles that exist before the stage's first deploy", () => {
    const gated = stack.stages.filter((s) => conditionsOf(stageId(s.config.stageName)).beforeEntry);
    expect(gated.map((s) => s.config.stageName)).toEqual(['staging', 'prod']);
    for (const entered of gated) {
      const rules = conditionsOf(stageId(entered.config.stageName)).beforeEntry?.Conditions?.[0]?.Rules ?? [];
      expect(entryRulesOnRolesNotYetCreated(entered, rules)).toEqual([]);
      // The check sees the first-run failure: the stage's own alarm-gate role, created by the stage's deploy.
      const broken = rules.map((r) => ({ ...r, RoleArn: entered.alarmGateRoleArn }));
      expect(entryRulesOnRolesNotYetCreated(entered, broken)).toEqual(
        rules.map((r) => `${entered.config.stageName}: ${r.Name}`),
      );
    }
  });

  it('bake each rolling-back stage on its health alarm for its bake time, then roll back on alarm or failure', () => {
    const [dev, staging, prod] = config.stages as [StageConfig, StageConfig, StageConfig];
    expect(staging.deployment.bakeMinutes).toBe(BAKE_MINUTES);
    expect(conditionsOf('Dev')).toEqual({
      beforeEntry: undefined,
      onSuccess: undefined,
      onFailure: undefined,
    });
    expect(dev.deployment.rollbackOnFailure).toBe(false);
    for (const [name, own] of [
      ['Staging', staging],
      ['Prod', prod],
    ] as const) {
      const { onSuccess, onFailure } = conditionsOf(name);
      expect(onSuccess?.Conditions).toEqual([
        { Result: 'ROLLBACK', Rules: [expect.objectContaining(ruleOf(own, own.deployment.bakeMinutes))] },
      ]);
      expect(onFailure).toEqual({ Result: 'ROLLBACK' });
    }
  });

  it("let the pipeline role assume exactly the stages' alarm-gate roles, each of which reads one alarm, and the gated stages' lookup roles", () => {
    const pipelineRoleId = stack.getLogicalId(stack.pipeline.pipeline.role.node.defaultChild as CfnElement);
    const statements = ofType('AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === pipelineRoleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
    const gate = statements.find((st) => st.Sid === 'ReadStageHealthAlarms');
    expect(asArray(gate?.Resource).map(joinLiteral).sort()).toEqual(
      [...config.stages.map(gateRole), ...config.stages.slice(1).map(lookupRole)].sort(),
    );
    for (const deployed of stack.stages) {
      const template = Template.fromStack(deployed.stack);
      const roles = Object.values(
        template.findResources('AWS::IAM::Role', {
          Properties: { RoleName: `${config.project}-${deployed.config.stageName}-processor-alarm-gate` },
        }),
      ) as Resource[];
      expect(roles).toHaveLength(1);
      const trust = roles[0]?.Properties.AssumeRolePolicyDocument.Statement as Json[];
      expect(trust.map((st) => joinLiteral(st.Principal.AWS))).toEqual([
        `arn:<AWS::Partition>:iam::${config.pipeline.account}:root`,
      ]);
      template.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', {
        AlarmName: `${config.project}-${deployed.config.stageName}-health`,
      });
    }
  });

  it('keep rollback on failure, and nothing else, with alarmGates off', () => {
    const app = new App({
      outdir: mkdtempSync(path.join(tmpdir(), 'pipeline-gates-')),
      context: TEST_APP_CONTEXT,
    });
    const ungated = new PipelineStack(app, 'Ungated', {
      config: loadAppConfig({ pipeline: { alarmGates: false } }),
    });
    const [, cfn] = Object.entries(
      Template.fromStack(ungated).toJSON().Resources as Record<string, Resource>,
    ).find(([, r]) => r.Type === 'AWS::CodePipeline::Pipeline') as [string, Resource];
    const stages = cfn.Properties.Stages as (PipelineStage & Record<string, unknown>)[];
    expect(stages.filter((st) => st.BeforeEntry || st.OnSuccess)).toEqual([]);
    expect(stages.filter((st) => st.OnFailure).map((st) => st.Name)).toEqual(['Staging', 'Prod']);
  });
});

describe('supply-chain gates (docs/supply-chain.md)', () => {
  const synthCommands = () =>
    buildSpecOf(projectOf(action('Build', 'Synth'))).phases.build.commands as string[];

  it('audit, scan for secrets, build the SBOMs and check licenses right after npm ci, before anything is built', () => {
    const commands = synthCommands();
    const at = (command: string) => commands.indexOf(command);
    expect(SUPPLY_CHAIN_GATE_COMMANDS).toEqual([
      'npm run audit',
      'npm run secrets',
      `npm run sbom -- --out ${SBOM_DIRECTORY}`,
      `npm run licenses -- --sbom ${SBOM_DIRECTORY}`,
    ]);
    for (const gate of SUPPLY_CHAIN_GATE_COMMANDS) {
      expect(at(gate), gate).toBeGreaterThan(at(NPM_CI));
      expect(at(gate), gate).toBeLessThan(at('npm run lint'));
    }
    // The commands are the package.json scripts a developer runs, and those run the gates' tools.
    const scripts = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).scripts;
    expect(scripts).toMatchObject({
      audit: 'node --import ./bin/require-node.mjs tools/audit.ts',
      secrets: expect.stringMatching(/^secretlint --secretlintignore \.secretlintignore "\*\*\/\*"$/),
      sbom: 'node --import ./bin/require-node.mjs tools/sbom.ts',
      licenses: 'node --import ./bin/require-node.mjs tools/licenses.ts',
    });
  });

  it('publishes the SBOM directory as an output artifact of the Synth action, beside the cloud assembly', () => {
    const outputs = synthOutputs(template.toJSON());
    expect(outputs.sboms.directory).toBe(SBOM_DIRECTORY);
    expect(outputs.sboms.artifact).not.toBe(outputs.cloudAssembly.artifact);
    // The cloud assembly is still what the pipeline's next stage (self-mutation) reads.
    const selfMutate = action('UpdatePipeline', 'SelfMutate') as Action & {
      InputArtifacts?: { Name: string }[];
    };
    expect(selfMutate.InputArtifacts?.map((a) => a.Name)).toEqual([outputs.cloudAssembly.artifact]);
  });

  it('the artifact check fails on a pipeline whose Synth action does not publish the SBOMs', () => {
    const withoutOutput = structuredClone(template.toJSON());
    const pipeline = Object.values(withoutOutput.Resources as Record<string, Resource>).find(
      (r) => r.Type === 'AWS::CodePipeline::Pipeline',
    );
    const synth = pipeline?.Properties.Stages.find((s: PipelineStage) => s.Name === 'Build').Actions[0];
    const sbomArtifact = synthOutputs(template.toJSON()).sboms.artifact;
    synth.OutputArtifacts = synth.OutputArtifacts.filter((a: { Name: string }) => a.Name !== sbomArtifact);
    expect(() => synthOutputs(withoutOutput)).toThrow(/publishes no artifact of sbom\//);

    // An output artifact the buildspec does not export would stay empty: also a failure.
    const notExported = structuredClone(template.toJSON());
    const project = Object.values(notExported.Resources as Record<string, Resource>).find(
      (r) => r.Type === 'AWS::CodeBuild::Project' && String(r.Properties.Source?.BuildSpec).includes('sbom'),
    );
    if (!project) throw new Error('no CodeBuild project exports sbom/');
    const spec = JSON.parse(project.Properties.Source.BuildSpec);
    for (const [name, exported] of Object.entries(spec.artifacts['secondary-artifacts'])) {
      if ((exported as { 'base-directory': string })['base-directory'] === SBOM_DIRECTORY) {
        delete spec.artifacts['secondary-artifacts'][name];
      }
    }
    project.Properties.Source.BuildSpec = JSON.stringify(spec);
    expect(() => synthOutputs(notExported)).toThrow(/is not exported by its buildspec/);
  });
});

describe('post-deploy tests', () => {
  const testSteps = () =>
    config.stages.map((s) => {
      const name = s.stageName.charAt(0).toUpperCase() + s.stageName.slice(1);
      return {
        stage: s,
        stageName: name,
        action: action(name, s.isProduction ? 'SmokeTest' : 'IntegrationTests'),
      };
    });

  it('hand each test step the outputs of the stage it follows, under the INTEG_* names', () => {
    for (const { stageName, action: test } of testSteps()) {
      const deploy = stage(stageName).Actions.find((a) => a.Name.endsWith('.Deploy'));
      const vars = JSON.parse(test.Configuration.EnvironmentVariables) as { name: string; value: string }[];
      expect(vars).toEqual([
        {
          name: INTEG_ENV.bucketName,
          type: 'PLAINTEXT',
          value: `#{${deploy?.Namespace}.${OUTPUT_KEYS.bucketName}}`,
        },
        {
          name: INTEG_ENV.tableName,
          type: 'PLAINTEXT',
          value: `#{${deploy?.Namespace}.${OUTPUT_KEYS.tableName}}`,
        },
        {
          name: INTEG_ENV.roleArn,
          type: 'PLAINTEXT',
          value: `#{${deploy?.Namespace}.${OUTPUT_KEYS.integTestRoleArn}}`,
        },
      ]);
    }
  });

  it("run buildspec.yml: its commands are the step's commands, with the stage name, region and smoke flag", () => {
    const file = parse(readFileSync(POST_DEPLOY_BUILDSPEC_FILE, 'utf8'));
    expect(file.phases.build.commands).toEqual([
      `npm run integ -- --stage "$INTEG_STAGE" \${INTEG_SMOKE:+--smoke}`,
    ]);
    for (const { stage: s, action: test } of testSteps()) {
      const project = projectOf(test);
      const spec = buildSpecOf(project);
      expect(spec.phases.install.commands).toEqual(file.phases.install.commands);
      expect(spec.phases.build.commands).toEqual(file.phases.build.commands);
      expect(spec.env).toEqual(file.env);
      const env = Object.fromEntries(
        (project.Properties.Environment.EnvironmentVariables as { Name: string; Value: string }[]).map(
          (v) => [v.Name, v.Value],
        ),
      );
      expect(env).toEqual({
        INTEG_STAGE: s.stageName,
        [INTEG_ENV.region]: s.region,
        ...(s.isProduction ? { INTEG_SMOKE: '1' } : {}),
      });
    }
  });

  it('may assume exactly one role: the integration-test role of the stage under test, which that stage creates', () => {
    for (const { stage: s, action: test } of testSteps()) {
      const assume = statementsOfProjectRole(projectOf(test)).filter((st) =>
        asArray(st.Action).some((a: string) => a.startsWith('sts:')),
      );
      const deployed = stack.stages.find((st) => st.config.stageName === s.stageName);
      if (!deployed) throw new Error(`no ProcessorStage for ${s.stageName}`);
      const roleName = Template.fromStack(deployed.stack).findResources('AWS::IAM::Role', {
        Properties: { RoleName: `${config.project}-${s.stageName}-processor-integ-test` },
      });
      expect(Object.keys(roleName)).toHaveLength(1);
      expect(assume).toHaveLength(1);
      expect(assume[0]).toMatchObject({ Effect: 'Allow', Action: 'sts:AssumeRole' });
      expect(joinLiteral(assume[0].Resource)).toBe(
        `arn:<AWS::Partition>:iam::${s.account}:role/${config.project}-${s.stageName}-processor-integ-test`,
      );
    }
  });
});

describe('drift checks', () => {
  it.each(['Dev', 'Staging', 'Prod'])(
    "%s: checks its own stack as its account's lookup role, and may assume only that role",
    (name) => {
      const s = config.stages.find((c) => c.stageName === name.toLowerCase());
      if (!s) throw new Error(`no stage config for ${name}`);
      const project = projectOf(action(name, stageActions(config.project, s).driftCheck));
      const lookupRole = `arn:<AWS::Partition>:iam::${s.account}:role/cdk-hnb659fds-lookup-role-${s.account}-${s.region}`;
      expect(buildSpecOf(project).phases.build.commands).toContain(
        `npm run drift-check -- --stack-name ${config.project}-${s.stageName}-processor --region ${s.region} --role-arn ${lookupRole}`,
      );
      const assume = statementsOfProjectRole(project).filter((st) =>
        asArray(st.Action).some((a: string) => a.startsWith('sts:')),
      );
      expect(assume).toHaveLength(1);
      expect(joinLiteral(assume[0].Resource)).toBe(lookupRole);
    },
  );
});

describe('build environment', () => {
  it("logs every CodeBuild project, CDK's security check included, to the encrypted build log group", () => {
    const buildLogs = stack.getLogicalId(stack.buildEnvironment.logGroup.node.defaultChild as CfnElement);
    expect(resources[buildLogs]?.Properties.KmsKeyId).toBeDefined();
    for (const [id, project] of ofType('AWS::CodeBuild::Project')) {
      expect(project.Properties.LogsConfig, id).toEqual({
        CloudWatchLogs: { GroupName: { Ref: buildLogs }, Status: 'ENABLED' },
      });
    }
  });

  it('never runs CodeBuild in privileged mode (no Docker anywhere)', () => {
    const projects = ofType('AWS::CodeBuild::Project');
    expect(projects.length).toBeGreaterThanOrEqual(9);
    for (const [, project] of projects) expect(project.Properties.Environment.PrivilegedMode).toBe(false);
  });

  it('builds every project on the ARM image with the npm cache in S3', () => {
    for (const [, project] of ofType('AWS::CodeBuild::Project')) {
      expect(project.Properties.Environment).toMatchObject({
        Image: BUILD_IMAGE.imageId,
        Type: 'ARM_CONTAINER',
      });
      expect(project.Properties.Cache.Type).toBe('S3');
      expect(buildSpecOf(project).cache.paths).toEqual([NPM_CACHE_PATH]);
    }
  });
});

describe('least privilege across accounts', () => {
  it('KMS key policies allow only principals of the configured accounts or AWS services, never "*"', () => {
    const accounts = accountsOf(config);
    const keys = ofType('AWS::KMS::Key');
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const [, key] of keys) {
      expect(key.Properties.EnableKeyRotation).toBe(true);
      // Denies may name everyone (the CreateGrant restriction does); only allows must be scoped.
      for (const statement of key.Properties.KeyPolicy.Statement.filter((s: Json) => s.Effect === 'Allow')) {
        const principal = statement.Principal;
        expect(principal).not.toBe('*');
        expect(principal.AWS).not.toBe('*');
        if (principal.AWS) {
          for (const arn of asArray(principal.AWS))
            expect(accounts).toContain(accountOfArn(joinLiteral(arn)));
        } else {
          expect(Object.keys(principal)).toEqual(['Service']);
        }
      }
    }
    // The artifact key lets exactly the three stage accounts' deploy roles decrypt what they deploy.
    const artifactKey = keys.find(([id]) => id.startsWith('PipelineArtifactsBucketEncryptionKey'))?.[1];
    const crossAccount = artifactKey?.Properties.KeyPolicy.Statement.filter(
      (s: Json) =>
        s.Effect === 'Allow' &&
        s.Principal.AWS &&
        accountOfArn(joinLiteral(s.Principal.AWS)) !== config.pipeline.account,
    );
    expect(crossAccount.map((s: Json) => accountOfArn(joinLiteral(s.Principal.AWS))).sort()).toEqual(
      config.stages.map((s) => s.account).sort(),
    );
  });

  it('every role may assume roles only in the configured accounts', () => {
    const accounts = accountsOf(config);
    for (const [id, policy] of ofType('AWS::IAM::Policy')) {
      const statements: Json[] = policy.Properties.PolicyDocument.Statement;
      const denyOutside = statements.find(
        (s) => s.Effect === 'Deny' && asArray(s.Action).includes('sts:AssumeRole') && s.NotResource,
      );
      for (const s of statements.filter(
        (st) => st.Effect === 'Allow' && asArray(st.Action).includes('sts:AssumeRole'),
      )) {
        for (const resource of asArray(s.Resource)) {
          if (resource === '*') {
            // Only CDK's security check does this; it is tag-conditioned and fenced by an explicit Deny.
            expect(s.Condition, id).toBeDefined();
            expect(denyOutside, id).toBeDefined();
            const fenced = asArray(denyOutside.NotResource).map((r) => accountOfArn(joinLiteral(r)));
            expect(new Set(fenced), id).toEqual(new Set(config.stages.map((c) => c.account)));
          } else if (typeof resource === 'string' || 'Fn::Join' in resource || 'Fn::Sub' in resource) {
            expect(accounts, `${id}: ${JSON.stringify(resource)}`).toContain(
              accountOfArn(joinLiteral(resource)),
            );
          } else {
            // A role of this stack (Fn::GetAtt): same account.
            expect(resource['Fn::GetAtt']?.[1], id).toBe('Arn');
          }
        }
      }
    }
  });

  it("attaches no AWS managed policy to any role (CDK's auto-approve function included)", () => {
    for (const [id, role] of ofType('AWS::IAM::Role'))
      expect(role.Properties.ManagedPolicyArns ?? [], id).toEqual([]);
  });

  it("bucket policies grant cross-account access only to the stages' deploy roles", () => {
    const accounts = accountsOf(config);
    for (const [, policy] of ofType('AWS::S3::BucketPolicy')) {
      for (const s of policy.Properties.PolicyDocument.Statement) {
        if (s.Effect !== 'Allow') continue;
        for (const arn of asArray(s.Principal.AWS))
          expect(accounts).toContain(accountOfArn(joinLiteral(arn)));
      }
    }
  });
});

describe('notifications', () => {
  it('announce failed executions and pending approvals on an encrypted topic with the configured e-mail', () => {
    template.hasResourceProperties('AWS::CodeStarNotifications::NotificationRule', {
      EventTypeIds: [
        'codepipeline-pipeline-pipeline-execution-failed',
        'codepipeline-pipeline-manual-approval-needed',
      ],
      Targets: [
        {
          TargetType: 'SNS',
          TargetAddress: {
            Ref: stack.getLogicalId(stack.notifications.topic.node.defaultChild as CfnElement),
          },
        },
      ],
    });
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: {
        'Fn::GetAtt': [stack.getLogicalId(stack.notifications.key.node.defaultChild as CfnElement), 'Arn'],
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: EMAIL });
  });

  it("let only this account's notification rules publish (no unconditioned service grant)", () => {
    const [[, topicPolicy]] = ofType('AWS::SNS::TopicPolicy') as [[string, Resource]];
    const grants = topicPolicy.Properties.PolicyDocument.Statement.filter(
      (s: Json) => s.Effect === 'Allow' && s.Principal.Service === 'codestar-notifications.amazonaws.com',
    );
    expect(grants).toHaveLength(1);
    expect(grants[0].Condition).toEqual({ StringEquals: { 'aws:SourceAccount': config.pipeline.account } });
  });
});

describe('cdk-nag', () => {
  /** Findings on the pipeline's own constructs (the stage stacks have their own tests). */
  const pipelineFindings = (pack: NagPack) =>
    pack
      .validateScope(stack)
      .violations.flatMap((v) =>
        v.violatingResources
          .map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '' }))
          .filter((f) => !/^ProcessorPipeline\/(Dev|Staging|Prod)\//.test(f.path)),
      );

  it('has no unacknowledged finding in any pack (AwsSolutions, Serverless, NIST 800-53 R5)', () => {
    for (const pack of nagPacks()) expect(pipelineFindings(pack as NagPack), pack.name).toEqual([]);
  });

  it('acknowledges only findings that exist, each with a specific reason', () => {
    // Without acknowledgements, every acknowledged id must match a real finding under its scope.
    const raw = nagPacks().flatMap((pack) => {
      (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
      return pipelineFindings(pack as NagPack);
    });
    const acks = pipelineAcknowledgements(stack);
    expect(acks.length).toBeGreaterThan(10);
    for (const ack of acks) {
      expect(ack.reason.length, ack.reason).toBeGreaterThanOrEqual(60);
      const scopePath = ack.scope.node.path;
      for (const id of ack.ids) {
        const hit = raw.some(
          (f) => f.rule === id && (f.path === scopePath || f.path.startsWith(`${scopePath}/`)),
        );
        expect(hit, `${id} @ ${scopePath}`).toBe(true);
      }
    }
  });
});

describe('a stage in another region than the pipeline', () => {
  it('gets a support stack whose CDK-internal findings are all acknowledged, and no others', () => {
    const app = new App({ context: TEST_APP_CONTEXT });
    const crossRegion = loadAppConfig({ stages: { dev: { region: 'us-east-1' } } });
    const pipeline = new PipelineStack(app, 'ProcessorPipeline', { config: crossRegion });
    const [support, ...more] = Object.values(pipeline.pipeline.pipeline.crossRegionSupport);
    expect(more).toEqual([]);
    expect(support?.stack.region).toBe('us-east-1');
    expect(support?.stack.account).toBe(crossRegion.pipeline.account);

    const findings = (acknowledged: boolean) =>
      nagPacks().flatMap((pack) => {
        if (!acknowledged)
          (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
        return (pack as NagPack)
          .validateScope(app)
          .violations.flatMap((v) =>
            v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '' })),
          )
          .filter((f) => !/^ProcessorPipeline\/(Dev|Staging|Prod)\//.test(f.path));
      });
    expect(findings(true)).toEqual([]);
    const raw = findings(false);
    const crossRegionAcks = pipelineAcknowledgements(pipeline).filter(
      (a) =>
        a.scope.node.path.startsWith(support?.stack.node.path ?? '?') ||
        a.ids.some((id) => id.includes('s3:::')),
    );
    expect(crossRegionAcks.length).toBe(2);
    for (const ack of crossRegionAcks) {
      for (const id of ack.ids)
        expect(
          raw.some((f) => f.rule === id && f.path.startsWith(ack.scope.node.path)),
          id,
        ).toBe(true);
    }
  });

  it('gets the same artifact expiry and CreateGrant restriction in that support stack as in the pipeline stack', () => {
    const app = new App({ context: TEST_APP_CONTEXT });
    const crossRegion = loadAppConfig({ stages: { dev: { region: 'us-east-1' } } });
    const pipeline = new PipelineStack(app, 'ProcessorPipeline', { config: crossRegion });
    const [support] = Object.values(pipeline.pipeline.pipeline.crossRegionSupport);
    if (!support) throw new Error('no cross-region support stack');
    const template = Template.fromStack(support.stack);
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'ExpireArtifacts',
            ExpirationInDays: ARTIFACT_RETENTION_DAYS,
            Status: 'Enabled',
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: GRANTS_ONLY_FOR_AWS_RESOURCES, Effect: 'Deny', Action: 'kms:CreateGrant' }),
        ]),
      },
    });
  });
});

describe('names the promotions tool reads history by', () => {
  it('are the synthesized stage and action names (lib/config/names.ts)', () => {
    expect(pipelineStages().map((s) => s.Name)).toEqual([
      ...Object.values(PIPELINE_STAGES),
      ...config.stages.map((s) => stageId(s.stageName)),
    ]);
    for (const s of config.stages) {
      const names = stage(stageId(s.stageName)).Actions.map((a) => a.Name);
      const expected = Object.values(stageActions(config.project, s));
      expect(names.sort()).toEqual(expected.sort());
    }
    expect(action('Build', PIPELINE_ACTIONS.synth)).toBeDefined();
    expect(action('UpdatePipeline', PIPELINE_ACTIONS.selfMutate)).toBeDefined();
  });

  it("and the stage conditions' rule names, by which it tells an entry check from the bake time", () => {
    type Conditions = { Conditions: { Rules: { Name: string }[] }[] };
    const ruleNames = (c: Conditions | undefined) => c?.Conditions.flatMap((x) => x.Rules.map((r) => r.Name));
    for (const s of config.stages) {
      const synthesized = stage(stageId(s.stageName)) as PipelineStage & {
        BeforeEntry?: Conditions;
        OnSuccess?: Conditions;
      };
      const rules = stageConditionRules(s);
      const first = s === config.stages[0];
      expect(ruleNames(synthesized.BeforeEntry)).toEqual(
        first ? undefined : [rules.entryPreviousStageHealthy, rules.entryOwnHealthy],
      );
      expect(ruleNames(synthesized.OnSuccess)).toEqual(
        s.deployment.rollbackOnFailure ? [rules.bakeTime] : undefined,
      );
    }
  });
});

describe('pull-request checks', () => {
  const prProject = () => {
    const [[id, project]] = ofType('AWS::CodeBuild::Project').filter(([i]) =>
      i.startsWith('PullRequestChecksProject'),
    ) as [[string, Resource]];
    return { id, project };
  };

  it('run on every pull request into the pipeline branch and report their status on it', () => {
    const { project } = prProject();
    expect(project.Properties.Name).toBe(`${config.project}-pull-requests`);
    expect(project.Properties.Source).toMatchObject({
      Type: 'GITHUB',
      Location: `https://github.com/${config.pipeline.repository}.git`,
      ReportBuildStatus: true,
      Auth: { Type: 'CODECONNECTIONS', Resource: config.pipeline.connectionArn },
    });
    expect(project.Properties.Triggers).toEqual({
      Webhook: true,
      FilterGroups: [
        [
          { Type: 'EVENT', Pattern: 'PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_REOPENED' },
          { Type: 'BASE_REF', Pattern: `refs/heads/${config.pipeline.branch}` },
        ],
      ],
      // A fork's code runs only after someone with write access approves it in a comment.
      PullRequestBuildPolicy: {
        RequiresCommentApproval: 'FORK_PULL_REQUESTS',
        ApproverRoles: ['GITHUB_WRITE', 'GITHUB_MAINTAIN', 'GITHUB_ADMIN'],
      },
    });
  });

  it('run exactly the commands the delivery pipeline synth step runs (one definition of green)', () => {
    const synth = buildSpecOf(projectOf(action('Build', 'Synth')));
    const checks = buildSpecOf(prProject().project);
    expect(checks.phases.build.commands).toEqual(synth.phases.build.commands);
    expect(checks.phases.install).toEqual(synth.phases.install);
    expect(checks.phases.build.commands).toContain('npx cdk synth');
  });

  it("run them on the synth step's machine, image and timeout (a smaller one could time out where synth passes)", () => {
    const synth = projectOf(action('Build', 'Synth'));
    const checks = prProject().project;
    const machine = (p: Resource) => ({
      image: p.Properties.Environment.Image,
      computeType: p.Properties.Environment.ComputeType,
      privileged: p.Properties.Environment.PrivilegedMode,
      timeoutMinutes: p.Properties.TimeoutInMinutes,
    });
    expect(machine(checks)).toEqual(machine(synth));
    expect(machine(synth).computeType).toBe('BUILD_GENERAL1_MEDIUM');
  });

  it('deploy nothing and cannot: no pipeline runs them, and their role may assume no role at all', () => {
    const { id, project } = prProject();
    const pipelineText = JSON.stringify(ofType('AWS::CodePipeline::Pipeline'));
    expect(pipelineText).not.toContain(id);
    const statements = statementsOfProjectRole(project);
    const allowsSts = statements.filter(
      (st) => st.Effect === 'Allow' && asArray(st.Action).some((a: string) => a.startsWith('sts:')),
    );
    expect(allowsSts).toEqual([]);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: expect.arrayContaining(['sts:AssumeRole']),
        Resource: '*',
      }),
    );
  });
});
