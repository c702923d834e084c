// Measurement variant, not deployed: the processor plus Powertools Tracer instrumenting both SDK clients, as it
// would be wired in handler.ts. `measure-bundle.ts` compares its size and load time with the real handler's.
import { Tracer } from '@aws-lambda-powertools/tracer';
import { createClients } from '../src/clients.ts';
import { loadConfig } from '../src/config.ts';

export { handler } from '../src/handler.ts';

const tracer = new Tracer({ serviceName: 'processor-measure' });
const { s3, dynamodb } = createClients(loadConfig(process.env));
tracer.captureAWSv3Client(s3);
tracer.captureAWSv3Client(dynamodb);
