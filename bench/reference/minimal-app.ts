// The synth-time floor: the CDK CLI starting Node, loading aws-cdk-lib and writing a cloud assembly for one stack
// with one resource. The whole app's synth time minus this is what our constructs, three stages and cdk-nag cost.
import { App, Stack } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';

const app = new App();
new Topic(new Stack(app, 'BenchMinimalStack'), 'Topic');
app.synth();
