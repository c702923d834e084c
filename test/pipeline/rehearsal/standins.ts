/**
 * Loopback stand-ins for the AWS query APIs the pipeline's actions call that no emulator in this repository
 * serves: STS (every cross-account role assumption) and the CloudFormation calls of the drift check. The SDK
 * reaches them through `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL_CLOUDFORMATION`, so the command under test runs
 * unchanged. Each records what it was asked, with the region the request was signed for.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a stand-in answered. */
export interface RecordedCall {
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  /** The region of the SigV4 credential scope. */
  readonly signedRegion: string | undefined;
  /** The access key that signed it (which credentials the caller used). */
  readonly accessKeyId: string | undefined;
}

export interface QueryStandIn {
  readonly endpoint: string;
  readonly calls: RecordedCall[];
  close(): Promise<void>;
}

type Responder = (call: RecordedCall) => { status: number; body: string };

async function startQueryStandIn(service: string, respond: Responder): Promise<QueryStandIn> {
  const calls: RecordedCall[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const auth = req.headers.authorization ?? '';
      const scope = new RegExp(`Credential=([^/]+)/\\d{8}/([^/]+)/${service}/`).exec(auth);
      const call: RecordedCall = {
        action: params.Action ?? '',
        params,
        signedRegion: scope?.[2],
        accessKeyId: scope?.[1],
      };
      calls.push(call);
      const { status, body: reply } = respond(call);
      res.writeHead(status, { 'content-type': 'text/xml' });
      res.end(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const xmlError = (namespace: string, code: string, message: string) => ({
  status: 400,
  body: `<ErrorResponse xmlns="${namespace}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>standin</RequestId></ErrorResponse>`,
});

/**
 * STS: AssumeRole answers with credentials the local emulators accept (s3rver knows only its own key pair), and
 * records which role was assumed with which caller credentials.
 */
export function startStsStandIn(credentials: { accessKeyId: string; secretAccessKey: string }) {
  const ns = 'https://sts.amazonaws.com/doc/2011-06-15/';
  return startQueryStandIn('sts', (call) => {
    if (call.action === 'AssumeRole') {
      const role = call.params.RoleArn ?? '';
      return {
        status: 200,
        body: `<AssumeRoleResponse xmlns="${ns}"><AssumeRoleResult><Credentials><AccessKeyId>${credentials.accessKeyId}</AccessKeyId><SecretAccessKey>${credentials.secretAccessKey}</SecretAccessKey><SessionToken>standin</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>${role}/standin</Arn><AssumedRoleId>AROASTANDIN:standin</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>standin</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      };
    }
    if (call.action === 'GetCallerIdentity') {
      return {
        status: 200,
        body: `<GetCallerIdentityResponse xmlns="${ns}"><GetCallerIdentityResult><Arn>arn:aws:sts::111111111111:assumed-role/codebuild/standin</Arn><UserId>AROASTANDIN:standin</UserId><Account>111111111111</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>standin</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
      };
    }
    return xmlError(ns, 'InvalidAction', `the STS stand-in does not serve ${call.action}`);
  });
}

/** What the CloudFormation stand-in says about the stack the drift check asks for. */
export type DriftScenario = 'not-deployed' | 'in-sync' | 'drifted';

/**
 * CloudFormation, as far as the drift check and the change-set review go: DescribeStacks, DetectStackDrift,
 * DescribeStackDriftDetectionStatus and DescribeStackResourceDrifts for the stack of the current scenario, and
 * DescribeChangeSet (one modified function, with property values).
 */
export async function startCloudFormationStandIn() {
  const ns = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
  let scenario: DriftScenario = 'not-deployed';
  const ok = (action: string, result: string) => ({
    status: 200,
    body: `<${action}Response xmlns="${ns}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>standin</RequestId></ResponseMetadata></${action}Response>`,
  });
  const standIn = await startQueryStandIn('cloudformation', (call) => {
    const stack = call.params.StackName ?? '';
    switch (call.action) {
      case 'DescribeStacks':
        if (scenario === 'not-deployed') {
          return xmlError(ns, 'ValidationError', `Stack with id ${stack} does not exist`);
        }
        return ok(
          'DescribeStacks',
          `<Stacks><member><StackName>${stack}</StackName><StackId>arn:aws:cloudformation:eu-west-1:222222222222:stack/${stack}/1</StackId><StackStatus>UPDATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime></member></Stacks>`,
        );
      case 'DetectStackDrift':
        return ok('DetectStackDrift', '<StackDriftDetectionId>standin-detection</StackDriftDetectionId>');
      case 'DescribeStackDriftDetectionStatus':
        return ok(
          'DescribeStackDriftDetectionStatus',
          `<StackId>arn:aws:cloudformation:eu-west-1:222222222222:stack/x/1</StackId><StackDriftDetectionId>standin-detection</StackDriftDetectionId><DetectionStatus>DETECTION_COMPLETE</DetectionStatus><StackDriftStatus>${scenario === 'drifted' ? 'DRIFTED' : 'IN_SYNC'}</StackDriftStatus><Timestamp>2026-01-01T00:00:00Z</Timestamp>`,
        );
      case 'DescribeChangeSet':
        if (call.params.IncludePropertyValues !== 'true') {
          return xmlError(ns, 'ValidationError', 'the stand-in expects IncludePropertyValues=true');
        }
        return ok(
          'DescribeChangeSet',
          `<ChangeSetName>${call.params.ChangeSetName}</ChangeSetName><ChangeSetId>arn:aws:cloudformation:eu-west-1:444444444444:changeSet/${call.params.ChangeSetName}/1</ChangeSetId><StackName>${stack}</StackName><StackId>arn:aws:cloudformation:eu-west-1:444444444444:stack/${stack}/1</StackId><Status>CREATE_COMPLETE</Status><ExecutionStatus>AVAILABLE</ExecutionStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Changes><member><Type>Resource</Type><ResourceChange><Action>Modify</Action><LogicalResourceId>ProcessorFunction</LogicalResourceId><PhysicalResourceId>fn</PhysicalResourceId><ResourceType>AWS::Lambda::Function</ResourceType><Replacement>False</Replacement><Scope><member>Properties</member></Scope><Details><member><Target><Attribute>Properties</Attribute><Name>MemorySize</Name><RequiresRecreation>Never</RequiresRecreation><BeforeValue>512</BeforeValue><AfterValue>1024</AfterValue></Target><Evaluation>Static</Evaluation><ChangeSource>DirectModification</ChangeSource></member></Details></ResourceChange></member></Changes>`,
        );
      case 'DescribeStackResourceDrifts':
        return ok(
          'DescribeStackResourceDrifts',
          `<StackResourceDrifts><member><StackId>x</StackId><LogicalResourceId>ProcessorFunction</LogicalResourceId><PhysicalResourceId>fn</PhysicalResourceId><ResourceType>AWS::Lambda::Function</ResourceType><StackResourceDriftStatus>MODIFIED</StackResourceDriftStatus><Timestamp>2026-01-01T00:00:00Z</Timestamp><PropertyDifferences><member><PropertyPath>/MemorySize</PropertyPath><ExpectedValue>512</ExpectedValue><ActualValue>1024</ActualValue><DifferenceType>NOT_EQUAL</DifferenceType></member></PropertyDifferences></member></StackResourceDrifts>`,
        );
      default:
        return xmlError(ns, 'InvalidAction', `the CloudFormation stand-in does not serve ${call.action}`);
    }
  });
  return {
    ...standIn,
    setScenario(next: DriftScenario) {
      scenario = next;
    },
  };
}
