// A CDK app (JavaScript, aws-cdk-lib v2) whose function is bundled by `shim pack`, locally: no Docker.
//
//   cdk synth --app "node app.js" -c function=hello -c python=3.12 -c arch=x86_64
//   cdk deploy --app "node app.js" -c function=hello ...
//
// CDK calls tryBundle(outputDir) while it synthesizes; `shim pack --extract-to` writes the
// deployment zip's contents there (bootstrap 0755, the runtime, your code, requirements.txt
// installed for Lambda, bytecode), and CDK zips that folder as the function's asset. CDK
// would bundle in Docker only if tryBundle returned false; it never does (a failing
// `shim pack` stops the synth with its error instead).
//
// With -c runtimeArn=arn:aws:lambda:REGION:ACCOUNT:runtime/NAME -c runtimeAlias=prod a second function runs on a
// customer-managed runtime (Runtime custom + RuntimeConfig): its zip holds only your code.
const path = require('path');
const { execFileSync } = require('child_process');
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');
const { FunctionRuntimeConfig } = require('aws-cdk-lib/aws-lambda/mixins');

const app = new cdk.App();
const functionDir = path.resolve(app.node.tryGetContext('function') || 'hello');
const python = app.node.tryGetContext('python') || '3.12';
const arch = app.node.tryGetContext('arch') || 'x86_64';
const shim = process.env.SHIM || 'shim';

// shim pack FUNCTION_DIR into CDK's output folder; extra: more `shim pack` options.
function shimCode(extra) {
  const args = ['pack', functionDir, '--python-version', python, '--arch', arch, '--quiet', ...extra];
  if (['3.9', '3.10', '3.11'].includes(python)) args.push('--glibc', '2.26');   // Amazon Linux 2 runtimes
  return lambda.Code.fromAsset(functionDir, {
    assetHashType: cdk.AssetHashType.OUTPUT,   // the hash of what shim pack wrote: each function its own asset
    bundling: {
      image: cdk.DockerImage.fromRegistry('public.ecr.aws/lambda/python:' + python),   // required; never used
      // CDK caches bundles by their options (tryBundle itself is not part of the key): the arguments
      // here give each function's bundle its own key.
      environment: { SHIM_PACK_ARGS: args.join(' ') },
      local: {
        tryBundle(outputDir) {
          execFileSync(shim, [...args, '--extract-to', outputDir], { stdio: ['ignore', 'ignore', 'inherit'] });
          return true;
        },
      },
    },
  });
}

const stack = new cdk.Stack(app, 'ShimExample');
const architecture = arch === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;

// The classic path: the managed runtime python3.X starts lambda-shim's bootstrap as its exec wrapper.
new lambda.Function(stack, 'Hello', {
  runtime: new lambda.Runtime('python' + python, lambda.RuntimeFamily.PYTHON),
  architecture,
  handler: 'handler.Handle',
  code: shimCode([]),
  environment: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/bootstrap' },
});

// A customer-managed runtime: Runtime custom, and RuntimeConfig from CDK's FunctionRuntimeConfig mixin.
const runtimeArn = app.node.tryGetContext('runtimeArn');
if (runtimeArn) {
  const fn = new lambda.Function(stack, 'HelloOnCustomRuntime', {
    runtime: new lambda.Runtime('custom', lambda.RuntimeFamily.OTHER),
    architecture,
    handler: 'handler.Handle',
    code: shimCode(['--no-runtime']),
  });
  fn.with(new FunctionRuntimeConfig({ runtimeArn, runtimeAlias: app.node.tryGetContext('runtimeAlias') || 'prod' }));
}

app.synth();
