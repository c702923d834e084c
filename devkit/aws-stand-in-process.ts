/**
 * The process side of devkit/aws-stand-in.ts: an S3 and a DynamoDB aws-proxy that first forward to the emulators
 * (recording the answers) and then, on request, replay them. Controlled over the IPC channel; exits when the
 * channel closes.
 *
 *   node aws-stand-in-process.ts '{"s3Upstream":"http://...","dynamodbUpstream":"http://..."}'   (spawned, with IPC)
 */
import { startAwsProxy } from './aws-proxy.ts';
import type { StandInReply, StandInRequest, StandInUpstreams } from './aws-stand-in.ts';

const [argument] = process.argv.slice(2);
if (argument === undefined || !process.send) {
  throw new Error('usage: aws-stand-in-process.ts <upstreams JSON>, spawned with an IPC channel');
}
const send = process.send.bind(process);
const upstreams = JSON.parse(argument) as StandInUpstreams;
const s3 = await startAwsProxy({ service: 's3', upstream: upstreams.s3Upstream, record: true });
const dynamodb = await startAwsProxy({
  service: 'dynamodb',
  upstream: upstreams.dynamodbUpstream,
  record: true,
});
let cpuSince = process.cpuUsage();

function answer(request: StandInRequest): StandInReply {
  switch (request.op) {
    case 'replay': {
      const s3Recording = s3.recordings();
      const dynamodbRecording = dynamodb.recordings();
      s3.setReplay(s3Recording);
      dynamodb.setReplay(dynamodbRecording);
      const shapes = [...Object.entries(s3Recording), ...Object.entries(dynamodbRecording)].map(
        ([shape, r]) => `${shape} -> ${r.status}${r.ambiguous ? ' (ambiguous)' : ''}`,
      );
      return { id: request.id, shapes };
    }
    case 'latency':
      s3.setLatency(request.ms);
      dynamodb.setLatency(request.ms);
      return { id: request.id };
    case 'reset':
      s3.reset();
      dynamodb.reset();
      cpuSince = process.cpuUsage();
      return { id: request.id };
    case 'usage': {
      const cpu = process.cpuUsage(cpuSince);
      const counts = { ...s3.counts(), ...dynamodb.counts() };
      const statuses = [...s3.requests(), ...dynamodb.requests()].map((r) => r.status ?? 0);
      return {
        id: request.id,
        counts,
        replayMisses: statuses.filter((s) => s === 501).length,
        cpuMs: (cpu.user + cpu.system) / 1000,
      };
    }
  }
}

process.on('message', (request: StandInRequest) => send(answer(request)));
process.on('disconnect', () => {
  void Promise.all([s3.stop(), dynamodb.stop()]).then(() => process.exit(0));
});
send({ id: -1, s3Endpoint: s3.endpoint, dynamodbEndpoint: dynamodb.endpoint } satisfies StandInReply);
