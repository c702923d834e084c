/**
 * DescribeChangeSet responses (IncludePropertyValues: true) for the prod processor stack, shaped exactly like the
 * API's (the SDK's DescribeChangeSetOutput types them): the logical IDs are the stack's real ones, the details are
 * what CloudFormation reports for such an edit (a direct edit is Static/DirectModification; a property that takes
 * another resource's changing attribute is Dynamic/ResourceAttribute or ResourceReference with CausingEntity; a
 * replace-forcing property evaluated Dynamic makes Replacement Conditional).
 */
import type { Change, DescribeChangeSetOutput } from '@aws-sdk/client-cloudformation';

export const STACK_NAME = 's3-object-processor-prod-processor';
export const STACK_ID =
  'arn:aws:cloudformation:eu-west-1:444444444444:stack/s3-object-processor-prod-processor/6c1f9a70-3e2b-11f0-9d4e-0a1b2c3d4e5f';
export const CHANGE_SET_ID =
  'arn:aws:cloudformation:eu-west-1:444444444444:changeSet/PipelineChange/0b8c7d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e';
export const KNOWN_AFTER_APPLY = '{{changeSet:KNOWN_AFTER_APPLY}}';

export const TABLE = 'ProcessorObjectsTableD8F1E774';
export const INGEST_QUEUE = 'ProcessorIngestQueue3759D326';
export const DEAD_LETTER_QUEUE = 'ProcessorDeadLetterQueue959FA4E1';
export const ACCESS_LOGS_BUCKET = 'ProcessorAccessLogsBucket5A05A37B';
export const OBJECTS_KEY = 'ProcessorObjectsKey6523F857';
export const FUNCTION = 'ProcessorFunction5B2A90E2';
export const EVENT_SOURCE = 'ProcessorLiveAliasSqsEventSourceProdProcessorIngestQueue7033C7AB033D4002';
export const REPORTS_DATABASE = 'ReportsDatabase9A1B2C3D';

/** What every page of a change set repeats. */
function header(overrides: Partial<DescribeChangeSetOutput> = {}): DescribeChangeSetOutput {
  return {
    ChangeSetName: 'PipelineChange',
    ChangeSetId: CHANGE_SET_ID,
    StackId: STACK_ID,
    StackName: STACK_NAME,
    CreationTime: new Date('2025-06-01T09:30:12.345Z'),
    ExecutionStatus: 'AVAILABLE',
    Status: 'CREATE_COMPLETE',
    NotificationARNs: [],
    RollbackConfiguration: {},
    Capabilities: ['CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'],
    Tags: [{ Key: 'project', Value: 's3-object-processor' }],
    IncludeNestedStacks: false,
    ...overrides,
  };
}

/** The table's partition key renamed objectKey -> pk: KeySchema forces a replacement; everything using it follows. */
const tableReplacedByKeySchema: Change[] = [
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      PolicyAction: 'ReplaceAndRetain',
      Action: 'Modify',
      LogicalResourceId: TABLE,
      PhysicalResourceId: 's3-object-processor-prod-processor-ProcessorObjectsTableD8F1E774-1Q2W3E4R5T6Y',
      ResourceType: 'AWS::DynamoDB::Table',
      Replacement: 'True',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'KeySchema',
            RequiresRecreation: 'Always',
            Path: '/Properties/KeySchema/0/AttributeName',
            BeforeValue: 'objectKey',
            AfterValue: 'pk',
            AttributeChangeType: 'Modify',
          },
          Evaluation: 'Static',
          ChangeSource: 'DirectModification',
        },
        {
          Target: {
            Attribute: 'Properties',
            Name: 'AttributeDefinitions',
            RequiresRecreation: 'Never',
            Path: '/Properties/AttributeDefinitions/0/AttributeName',
            BeforeValue: 'objectKey',
            AfterValue: 'pk',
            AttributeChangeType: 'Modify',
          },
          Evaluation: 'Static',
          ChangeSource: 'DirectModification',
        },
      ],
      BeforeContext: JSON.stringify({
        Properties: {
          KeySchema: [{ AttributeName: 'objectKey', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'objectKey', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
          DeletionProtectionEnabled: 'true',
        },
      }),
      AfterContext: JSON.stringify({
        Properties: {
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
          DeletionProtectionEnabled: 'true',
        },
      }),
    },
  },
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      Action: 'Modify',
      LogicalResourceId: FUNCTION,
      PhysicalResourceId: 's3-object-processor-prod-ProcessorFunction5B2A90E2-AbCdEf123456',
      ResourceType: 'AWS::Lambda::Function',
      Replacement: 'False',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'Environment',
            RequiresRecreation: 'Never',
            Path: '/Properties/Environment/Variables/TABLE_NAME',
            BeforeValue: 's3-object-processor-prod-processor-ProcessorObjectsTableD8F1E774-1Q2W3E4R5T6Y',
            AfterValue: KNOWN_AFTER_APPLY,
            AttributeChangeType: 'Modify',
          },
          Evaluation: 'Dynamic',
          ChangeSource: 'ResourceReference',
          CausingEntity: TABLE,
        },
      ],
    },
  },
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      Action: 'Modify',
      LogicalResourceId: 'ProcessorFunctionPolicyC8B6DC94',
      PhysicalResourceId:
        'arn:aws:iam::444444444444:policy/s3-object-processor-prod-ProcessorFunctionPolicy-7YHN6TGB',
      ResourceType: 'AWS::IAM::ManagedPolicy',
      Replacement: 'False',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'PolicyDocument',
            RequiresRecreation: 'Never',
            Path: '/Properties/PolicyDocument/Statement/2/Resource',
            BeforeValue:
              'arn:aws:dynamodb:eu-west-1:444444444444:table/s3-object-processor-prod-processor-ProcessorObjectsTableD8F1E774-1Q2W3E4R5T6Y',
            AfterValue: KNOWN_AFTER_APPLY,
            AttributeChangeType: 'Modify',
          },
          Evaluation: 'Dynamic',
          ChangeSource: 'ResourceAttribute',
          CausingEntity: `${TABLE}.Arn`,
        },
        // CloudFormation lists a dependency twice when two intrinsic functions reach the same property.
        {
          Target: {
            Attribute: 'Properties',
            Name: 'PolicyDocument',
            RequiresRecreation: 'Never',
            Path: '/Properties/PolicyDocument/Statement/2/Resource',
            BeforeValue:
              'arn:aws:dynamodb:eu-west-1:444444444444:table/s3-object-processor-prod-processor-ProcessorObjectsTableD8F1E774-1Q2W3E4R5T6Y',
            AfterValue: KNOWN_AFTER_APPLY,
            AttributeChangeType: 'Modify',
          },
          Evaluation: 'Dynamic',
          ChangeSource: 'ResourceAttribute',
          CausingEntity: `${TABLE}.Arn`,
        },
      ],
    },
  },
];

/** One page: the table replaced because its KeySchema changed (plus the function and policy that follow it). */
export function tableKeySchemaChangeSet(): DescribeChangeSetOutput {
  return header({ Changes: structuredClone(tableReplacedByKeySchema) });
}

/** Page 1 of a change set spread over two: a queue renamed (replaced) and what hangs off it. */
const pageOneChanges: Change[] = [
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      PolicyAction: 'ReplaceAndRetain',
      Action: 'Modify',
      LogicalResourceId: INGEST_QUEUE,
      PhysicalResourceId:
        'https://sqs.eu-west-1.amazonaws.com/444444444444/s3-object-processor-prod-ProcessorIngestQueue-kL9mN8bV7cX6',
      ResourceType: 'AWS::SQS::Queue',
      Replacement: 'True',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'QueueName',
            RequiresRecreation: 'Always',
            Path: '/Properties/QueueName',
            AfterValue: 'prod-ingest',
            AttributeChangeType: 'Add',
          },
          Evaluation: 'Static',
          ChangeSource: 'DirectModification',
        },
      ],
    },
  },
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      Action: 'Modify',
      LogicalResourceId: EVENT_SOURCE,
      PhysicalResourceId: '3f2e1d0c-4b5a-6978-8a9b-0c1d2e3f4a5b',
      ResourceType: 'AWS::Lambda::EventSourceMapping',
      Replacement: 'Conditional',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'EventSourceArn',
            RequiresRecreation: 'Always',
            Path: '/Properties/EventSourceArn',
            BeforeValue:
              'arn:aws:sqs:eu-west-1:444444444444:s3-object-processor-prod-ProcessorIngestQueue-kL9mN8bV7cX6',
            AfterValue: KNOWN_AFTER_APPLY,
            AttributeChangeType: 'Modify',
          },
          Evaluation: 'Dynamic',
          ChangeSource: 'ResourceAttribute',
          CausingEntity: `${INGEST_QUEUE}.Arn`,
        },
      ],
    },
  },
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      Action: 'Modify',
      LogicalResourceId: 'ProcessorIngestQueuePolicyA5C58D43',
      PhysicalResourceId: 's3-object-processor-prod-ProcessorIngestQueuePolicy-1A2B3C4D5E6F',
      ResourceType: 'AWS::SQS::QueuePolicy',
      Replacement: 'False',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'Queues',
            RequiresRecreation: 'Never',
            Path: '/Properties/Queues/0',
            BeforeValue:
              'https://sqs.eu-west-1.amazonaws.com/444444444444/s3-object-processor-prod-ProcessorIngestQueue-kL9mN8bV7cX6',
            AfterValue: KNOWN_AFTER_APPLY,
            AttributeChangeType: 'Modify',
          },
          Evaluation: 'Dynamic',
          ChangeSource: 'ResourceReference',
          CausingEntity: INGEST_QUEUE,
        },
      ],
    },
  },
  {
    // A team that extended the stack with a database: a StorageType change replaces an RDS instance only in some
    // cases, so CloudFormation says Conditionally, and the resource "may be replaced".
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      PolicyAction: 'ReplaceAndSnapshot',
      Action: 'Modify',
      LogicalResourceId: REPORTS_DATABASE,
      PhysicalResourceId: 'reportsdatabase9a1b2c3d-xyz',
      ResourceType: 'AWS::RDS::DBInstance',
      Replacement: 'Conditional',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'StorageType',
            RequiresRecreation: 'Conditionally',
            Path: '/Properties/StorageType',
            BeforeValue: 'gp2',
            AfterValue: 'gp3',
            AttributeChangeType: 'Modify',
          },
          Evaluation: 'Static',
          ChangeSource: 'DirectModification',
        },
      ],
    },
  },
];

const KEY_POLICY_STATEMENT = {
  Sid: 'AllowReportingAccountDecrypt',
  Effect: 'Allow',
  Principal: { AWS: 'arn:aws:iam::555555555555:root' },
  Action: ['kms:Decrypt', 'kms:DescribeKey'],
  Resource: '*',
};

/** Page 2: the access-log bucket removed (prod retains it), a key policy widened, IAM and a permission added. */
const pageTwoChanges: Change[] = [
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      PolicyAction: 'Retain',
      Action: 'Remove',
      LogicalResourceId: ACCESS_LOGS_BUCKET,
      PhysicalResourceId: 's3-object-processor-prod-processoraccesslogsbucket5-qwertyuiop12',
      ResourceType: 'AWS::S3::Bucket',
      Scope: [],
      Details: [],
      BeforeContext: JSON.stringify({
        Properties: {
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
            ],
          },
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] },
        },
      }),
    },
  },
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      Action: 'Modify',
      LogicalResourceId: OBJECTS_KEY,
      PhysicalResourceId: '1234abcd-12ab-34cd-56ef-1234567890ab',
      ResourceType: 'AWS::KMS::Key',
      Replacement: 'False',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'KeyPolicy',
            RequiresRecreation: 'Never',
            Path: '/Properties/KeyPolicy/Statement/3',
            AfterValue: JSON.stringify(KEY_POLICY_STATEMENT),
            AttributeChangeType: 'Add',
          },
          Evaluation: 'Static',
          ChangeSource: 'DirectModification',
        },
      ],
    },
  },
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      Action: 'Modify',
      LogicalResourceId: 'IntegTestRolePolicy5E4EBD02',
      PhysicalResourceId:
        'arn:aws:iam::444444444444:policy/s3-object-processor-prod-IntegTestRolePolicy-5RFV4EDC',
      ResourceType: 'AWS::IAM::ManagedPolicy',
      Replacement: 'False',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'PolicyDocument',
            RequiresRecreation: 'Never',
            Path: '/Properties/PolicyDocument/Statement/0/Action/2',
            AfterValue: 's3:DeleteObjectVersion',
            AttributeChangeType: 'Add',
          },
          Evaluation: 'Static',
          ChangeSource: 'DirectModification',
        },
      ],
    },
  },
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      Action: 'Add',
      LogicalResourceId: 'ProcessorFunctionInvokeFromScheduler2F4E6A8C',
      ResourceType: 'AWS::Lambda::Permission',
      Scope: [],
      Details: [],
      AfterContext: JSON.stringify({
        Properties: {
          Action: 'lambda:InvokeFunction',
          FunctionName: KNOWN_AFTER_APPLY,
          Principal: 'scheduler.amazonaws.com',
          SourceAccount: '444444444444',
        },
      }),
    },
  },
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      Action: 'Modify',
      LogicalResourceId: 'MonitoringFunctionErrorsAlarmB0C50093',
      PhysicalResourceId: 's3-object-processor-prod-MonitoringFunctionErrorsAlarm-ZXCVBNM',
      ResourceType: 'AWS::CloudWatch::Alarm',
      Replacement: 'False',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'Threshold',
            RequiresRecreation: 'Never',
            Path: '/Properties/Threshold',
            BeforeValue: '1',
            AfterValue: '2',
            AttributeChangeType: 'Modify',
          },
          Evaluation: 'Static',
          ChangeSource: 'DirectModification',
        },
      ],
    },
  },
];

/** Two pages: DescribeChangeSet returns the first with a NextToken, the second without. */
export function paginatedChangeSet(): [DescribeChangeSetOutput, DescribeChangeSetOutput] {
  return [
    header({ Changes: structuredClone(pageOneChanges), NextToken: 'eyJwYWdlIjoyfQ==' }),
    header({ Changes: structuredClone(pageTwoChanges) }),
  ];
}

/**
 * VPC mode: the function's security group opens egress to a new port (a property of the group, as CDK writes it),
 * a standalone ingress rule is added, and the group's tags change on another group (not a rule change).
 */
const securityGroupChanges: Change[] = [
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      Action: 'Modify',
      LogicalResourceId: 'ProcessorFunctionSecurityGroupA1B2C3D4',
      PhysicalResourceId: 'sg-0a1b2c3d4e5f60718',
      ResourceType: 'AWS::EC2::SecurityGroup',
      Replacement: 'False',
      Scope: ['Properties'],
      Details: [
        {
          Target: {
            Attribute: 'Properties',
            Name: 'SecurityGroupEgress',
            RequiresRecreation: 'Never',
            Path: '/Properties/SecurityGroupEgress/1',
            AfterValue: '{"CidrIp":"0.0.0.0/0","FromPort":8080,"IpProtocol":"tcp","ToPort":8080}',
            AttributeChangeType: 'Add',
          },
          Evaluation: 'Static',
          ChangeSource: 'DirectModification',
        },
      ],
    },
  },
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      Action: 'Add',
      LogicalResourceId: 'EndpointsSecurityGroupfromProcessor443E5F6A7B8',
      ResourceType: 'AWS::EC2::SecurityGroupIngress',
      Scope: [],
      Details: [],
    },
  },
  {
    Type: 'Resource',
    HookInvocationCount: 0,
    ResourceChange: {
      Action: 'Modify',
      LogicalResourceId: 'EndpointsSecurityGroupC9D0E1F2',
      PhysicalResourceId: 'sg-0f1e2d3c4b5a69788',
      ResourceType: 'AWS::EC2::SecurityGroup',
      Replacement: 'False',
      Scope: ['Tags'],
      Details: [
        {
          Target: {
            Attribute: 'Tags',
            RequiresRecreation: 'Never',
            Path: '/Properties/Tags/0/Value',
            BeforeValue: 'a',
            AfterValue: 'b',
            AttributeChangeType: 'Modify',
          },
          Evaluation: 'Static',
          ChangeSource: 'DirectModification',
        },
      ],
    },
  },
];

export function securityGroupChangeSet(): DescribeChangeSetOutput {
  return header({ Changes: structuredClone(securityGroupChanges) });
}

/** The change set CloudFormation leaves when the template and parameters match the stack: nothing to deploy. */
export function noChangesChangeSet(): DescribeChangeSetOutput {
  return header({
    Status: 'FAILED',
    ExecutionStatus: 'UNAVAILABLE',
    StatusReason:
      "The submitted information didn't contain changes. Submit different information to create a change set.",
    Changes: [],
  });
}

/** The same change set while CloudFormation is still computing it. */
export function pendingChangeSet(status: 'CREATE_PENDING' | 'CREATE_IN_PROGRESS'): DescribeChangeSetOutput {
  return header({ Status: status, ExecutionStatus: 'UNAVAILABLE', Changes: [] });
}

/** A change set that changes only an alarm threshold: nothing stateful, nothing IAM. */
export function alarmOnlyChangeSet(): DescribeChangeSetOutput {
  const alarm = pageTwoChanges.find((c) => c.ResourceChange?.ResourceType === 'AWS::CloudWatch::Alarm');
  return header({ Changes: structuredClone(alarm ? [alarm] : []) });
}
