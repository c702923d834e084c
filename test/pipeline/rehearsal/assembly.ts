/**
 * Reads a synthesized cloud assembly the way CodePipeline and CodeBuild will: every CodeBuild action of the
 * pipeline with the buildspec its project really has (inline in the template, or the file CDK Pipelines wrote into
 * the assembly), the environment the project and the action set, and the IAM policy of the project's role.
 * Nothing here comes from the repository's constants: only from the assembly `cdk synth` wrote.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface BuildSpec {
  readonly version?: unknown;
  readonly env?: { readonly shell?: string; readonly variables?: Record<string, string> };
  readonly phases?: Record<string, { readonly commands?: readonly string[] } | undefined>;
}

export interface CodeBuildAction {
  readonly stage: string;
  readonly action: string;
  readonly runOrder: number;
  readonly projectLogicalId: string;
  readonly buildSpec: BuildSpec;
  /** Project environment variables, then the action's (the action's win, as in CodeBuild). */
  readonly env: Readonly<Record<string, string>>;
  /** Statements of the policies attached to the project's role. */
  readonly roleStatements: readonly PolicyStatement[];
}

export interface PolicyStatement {
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
}

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** The pseudo parameters of the pipeline's own account and region, as CloudFormation resolves them. */
export interface Pseudo {
  readonly account: string;
  readonly region: string;
}

/** Resolves the intrinsics a buildspec or ARN of the pipeline template uses: Fn::Join/Fn::Sub over literals and pseudo refs. */
export function resolveIntrinsics(value: unknown, pseudo: Pseudo): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, pseudo));
  if (typeof value !== 'object' || value === null) return value;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') {
    const refs: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::AccountId': pseudo.account,
      'AWS::Region': pseudo.region,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    return refs[v.Ref] ?? `<ref:${v.Ref}>`;
  }
  if (Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return (resolveIntrinsics(parts, pseudo) as unknown[]).map(String).join(sep);
  }
  if (typeof v['Fn::Sub'] === 'string') {
    return v['Fn::Sub'].replace(/\$\{([^}]+)\}/g, (_, name: string) =>
      String(resolveIntrinsics({ Ref: name }, pseudo)),
    );
  }
  if (Array.isArray(v['Fn::GetAtt'])) return `<getatt:${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveIntrinsics(x, pseudo)]));
}

export interface PipelineAssembly {
  readonly dir: string;
  readonly template: { readonly Resources: Record<string, Resource> };
  readonly actions: readonly CodeBuildAction[];
}

export function readPipelineAssembly(dir: string, templateFile: string, pseudo: Pseudo): PipelineAssembly {
  const template = JSON.parse(
    readFileSync(path.join(dir, templateFile), 'utf8'),
  ) as PipelineAssembly['template'];
  const resources = template.Resources;
  const pipelines = Object.values(resources).filter((r) => r.Type === 'AWS::CodePipeline::Pipeline');
  if (pipelines.length !== 1)
    throw new Error(`${templateFile}: expected one pipeline, found ${pipelines.length}`);
  const stages = (pipelines[0]?.Properties?.Stages ?? []) as {
    Name: string;
    Actions: {
      Name: string;
      RunOrder?: number;
      ActionTypeId: { Provider: string };
      Configuration?: Record<string, unknown>;
    }[];
  }[];

  const actions: CodeBuildAction[] = [];
  for (const stage of stages) {
    for (const action of stage.Actions) {
      if (action.ActionTypeId.Provider !== 'CodeBuild') continue;
      const configuration = resolveIntrinsics(action.Configuration ?? {}, pseudo) as Record<string, unknown>;
      const projectRef = (action.Configuration?.ProjectName as { Ref?: string } | undefined)?.Ref;
      const project = projectRef === undefined ? undefined : resources[projectRef];
      if (projectRef === undefined || project?.Type !== 'AWS::CodeBuild::Project') {
        throw new Error(`${stage.Name}/${action.Name}: no CodeBuild project behind the action`);
      }
      const props = resolveIntrinsics(project.Properties ?? {}, pseudo) as Record<string, unknown>;
      const spec = (props.Source as { BuildSpec?: unknown }).BuildSpec;
      if (typeof spec !== 'string') throw new Error(`${stage.Name}/${action.Name}: unresolved buildspec`);
      // Inline buildspecs are JSON; with publishAssetsInParallel false CDK writes them into the assembly instead.
      const buildSpec = JSON.parse(
        spec.trimStart().startsWith('{') ? spec : readFileSync(path.join(dir, spec), 'utf8'),
      ) as BuildSpec;
      const projectEnv = (
        ((props.Environment as { EnvironmentVariables?: { Name: string; Value: string }[] })
          .EnvironmentVariables ?? []) as { Name: string; Value: string }[]
      ).map((e) => [e.Name, String(e.Value)] as const);
      const actionEnv = (
        JSON.parse(String(configuration.EnvironmentVariables ?? '[]')) as { name: string; value: string }[]
      ).map((e) => [e.name, e.value] as const);
      actions.push({
        stage: stage.Name,
        action: action.Name,
        runOrder: action.RunOrder ?? 1,
        projectLogicalId: projectRef,
        buildSpec,
        env: Object.fromEntries([...projectEnv, ...actionEnv]),
        roleStatements: roleStatements(resources, props.ServiceRole, pseudo),
      });
    }
  }
  return { dir, template, actions };
}

/** Statements of every IAM policy attached to the role a project's ServiceRole points at. */
function roleStatements(
  resources: Record<string, Resource>,
  serviceRole: unknown,
  pseudo: Pseudo,
): PolicyStatement[] {
  const roleId = Object.entries(resources).find(
    ([id, r]) => r.Type === 'AWS::IAM::Role' && String(serviceRole).includes(`<getatt:${id}.Arn>`),
  )?.[0];
  if (roleId === undefined) return [];
  const statements: PolicyStatement[] = [];
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const roles = (resource.Properties?.Roles ?? []) as { Ref?: string }[];
    if (!roles.some((r) => r.Ref === roleId)) continue;
    const document = resolveIntrinsics(resource.Properties?.PolicyDocument, pseudo) as {
      Statement: PolicyStatement[];
    };
    statements.push(...document.Statement);
  }
  return statements;
}

/** Resources of `sts:AssumeRole` Allow statements of a role (the roles an action may act as). */
export function assumableRoles(statements: readonly PolicyStatement[]): string[] {
  return statements
    .filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes('sts:AssumeRole'))
    .flatMap((s) => [s.Resource].flat().map(String));
}

/** A stack artifact of a (nested) assembly: its id (the CodePipeline variable namespace), name and outputs. */
export interface StackArtifact {
  readonly artifactId: string;
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
  readonly outputKeys: readonly string[];
  /** The stack's template, for values only a deploy would resolve (see `roleArnOutput`). */
  readonly template: {
    readonly Resources?: Record<string, Resource>;
    readonly Outputs?: Record<string, { readonly Value?: unknown }>;
  };
}

/** Every stack of the assembly and of the stage assemblies nested in it. */
export function stackArtifacts(dir: string): StackArtifact[] {
  const found: StackArtifact[] = [];
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<
      string,
      {
        type: string;
        environment?: string;
        properties?: { stackName?: string; templateFile?: string; directoryName?: string };
      }
    >;
  };
  for (const [artifactId, artifact] of Object.entries(manifest.artifacts)) {
    const p = artifact.properties ?? {};
    if (artifact.type === 'aws:cloudformation:stack' && p.templateFile) {
      const [, account = '', region = ''] =
        /^aws:\/\/(\d+|unknown-account)\/(.+)$/.exec(artifact.environment ?? '') ?? [];
      const template = JSON.parse(
        readFileSync(path.join(dir, p.templateFile), 'utf8'),
      ) as StackArtifact['template'];
      found.push({
        artifactId,
        stackName: p.stackName ?? artifactId,
        account,
        region,
        outputKeys: Object.keys(template.Outputs ?? {}),
        template,
      });
    }
    if (artifact.type === 'cdk:cloud-assembly' && p.directoryName) {
      found.push(...stackArtifacts(path.join(dir, p.directoryName)));
    }
  }
  return found;
}

/** Every command of a buildspec in the order CodeBuild runs them. */
export function commandsOf(spec: BuildSpec): { phase: string; command: string }[] {
  return ['install', 'pre_build', 'build', 'post_build'].flatMap((phase) =>
    (spec.phases?.[phase]?.commands ?? []).map((command) => ({ phase, command })),
  );
}

/**
 * The value a stack output holding a role ARN will have once deployed: the output must be the ARN of a role of
 * the stack with a literal RoleName (the one physical name the pipeline may address across accounts).
 */
export function roleArnOutput(stack: StackArtifact, outputKey: string): string {
  const value = stack.template.Outputs?.[outputKey]?.Value as { 'Fn::GetAtt'?: [string, string] } | undefined;
  const [logicalId, attribute] = value?.['Fn::GetAtt'] ?? [];
  const role = logicalId === undefined ? undefined : stack.template.Resources?.[logicalId];
  const roleName = role?.Properties?.RoleName;
  if (attribute !== 'Arn' || role?.Type !== 'AWS::IAM::Role' || typeof roleName !== 'string') {
    throw new Error(
      `${stack.stackName}: output ${outputKey} is not the ARN of a role with a literal RoleName`,
    );
  }
  return `arn:aws:iam::${stack.account}:role/${roleName}`;
}
