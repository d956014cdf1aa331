import { awscdk, javascript, JsonFile } from 'projen';

/** Versions shared by the library and the relay image, kept in one place. */
const JOSE_VERSION = '6.2.18';
/** The Public Suffix List, as a maintained package: wildcard allow-list entries must stay under a registrable domain. */
const TLDTS_VERSION = '7.6.0';
/** IP address ranges, for the relay's refusal of ingests that resolve to private or metadata addresses. */
const IPADDR_VERSION = '2.5.0';
/** The browser's muxer for the WebCodecs capture path, served by the relay to the page (relay/src/vendor.ts). */
const MEDIABUNNY_VERSION = '1.61.0';
/** The CDK CLI's `--app` for the integration test, run from its TypeScript source. */
const INTEG_APP = '--app \'ts-node --prefer-ts-exts test/integ.relay.ts\' --output cdk.out.integ';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-transwrap-relay',
  description:
    'Go live from a web browser to Amazon IVS or any RTMP(S) ingest: a CDK construct that deploys a Bun WebSocket-to-FFmpeg relay on ECS Fargate, with a task registry and cdk-nag clean defaults.',
  keywords: ['cdk', 'awscdk', 'ivs', 'rtmp', 'rtmps', 'webrtc', 'mediarecorder', 'ffmpeg', 'fargate', 'live-streaming'],
  author: 'Transwrap',
  authorAddress: 'eng@transwrap.dev',
  repositoryUrl: 'https://github.com/transwrap/cdk-transwrap-relay.git',
  license: 'Apache-2.0',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  // Node 20 is end-of-life (2026-04-30): jsii no longer supports it and the AWS SDK's 2027 releases need 22.
  minNodeVersion: '22.0.0',

  // The first aws-cdk-lib whose validation plugins get the construct tree (IPolicyValidationContext.appConstruct):
  // before it, the README's `Validations.of(app).addPlugins(new AwsSolutionsChecks(app))` fails without
  // evaluating a rule (test/nag-readme.test.ts). 2.257.0, which first had `Validations`, is not enough.
  cdkVersion: '2.258.0',
  jsiiVersion: '~6.0.0',

  publishToPypi: {
    distName: 'cdk-transwrap-relay',
    module: 'cdk_transwrap_relay',
  },
  docgen: true,

  // One dev tsconfig at the top level, covering src, test and .projenrc.ts.
  tsconfigDevFile: 'tsconfig.dev.json',
  eslintOptions: {
    dirs: ['src'],
    // The Bun code (relay, its harness, the benchmark) is linted too, against its own tsconfig below.
    devdirs: ['test', 'relay', 'harness', 'bench'],
    // Lint against the dev tsconfig, which (unlike the jsii one) also covers test/.
    tsconfigPath: './tsconfig.dev.json',
    projectService: false,
  },

  lambdaOptions: {
    runtime: awscdk.LambdaRuntime.NODEJS_24_X,
  },

  jestOptions: {
    // The test task must be able to fail on a changed snapshot: never rewrite them there.
    // `npx projen test:update` is the explicit way to accept new snapshots.
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      collectCoverage: false,
      testTimeout: 60_000,
    },
  },

  // The endpoints CLI (`bin`) and the construct's allow-list check run from the installed package,
  // so their libraries ship inside it.
  bundledDeps: [
    `tldts@${TLDTS_VERSION}`,
    'commander@^14',
    `jose@${JOSE_VERSION}`,
    '@aws-sdk/client-dynamodb@^3',
    '@aws-sdk/client-secrets-manager@^3',
  ],
  bin: { 'cdk-transwrap-relay': 'lib/cli/main.js' },

  devDeps: [
    'cdk-nag@^3.0.2',
    'bun@^1.4.5',
    // The relay's own dependencies (relay/package.json), for its tests and type check here.
    `ipaddr.js@${IPADDR_VERSION}`,
    `mediabunny@${MEDIABUNNY_VERSION}`,
    '@types/bun@^1.4.5',
    '@aws-sdk/client-ec2@^3',
    '@aws-sdk/client-ecs@^3',
    '@aws-sdk/client-route-53@^3',
    '@types/aws-lambda@^8',
    'dynalite@^4',
    'playwright-core@^1.65.0',
    // Firefox ESR (Debian's) over WebDriver BiDi, for the relay's Firefox tests (harness/firefox.ts).
    'puppeteer-core@^25.16.0',
    'node-media-server@^4.4.3',
    // The deployable integration test (test/integ.relay.ts). integ-runner is not used: the newest on the
    // registry (2.197.10) cannot read the cloud assembly of aws-cdk-lib >= 2.258 (schema 54), so jest checks
    // the test's templates and `integ:deploy` runs it with the CDK CLI.
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    'aws-cdk@^2.1148.1',
  ],

  gitignore: ['/test-reports/', '/relay/node_modules/', '/.tmp/', '/cdk.out.integ/', '/.tools/'],
  npmignoreEnabled: true,
});

// Typed lint rules need every file in a program: the dev tsconfig for the library and its tests, the relay's for Bun code.
const lintPrograms = ['./tsconfig.dev.json', './relay/tsconfig.json'];
project.eslint?.config.parserOptions && Object.assign(project.eslint.config.parserOptions, { project: lintPrograms });
project.tryFindObjectFile('.eslintrc.json')?.addOverride('settings.import/resolver.typescript.project', lintPrograms);
project.eslint?.addOverride({
  files: ['relay/**/*.ts', 'harness/**/*.ts', 'bench/**/*.ts'],
  rules: {
    // Bun's built-in modules (bun, bun:test) have no package to resolve.
    'import/no-unresolved': ['error', { ignore: ['^bun(:|$)'] }],
    // The relay's one runtime dependency is in relay/package.json; everything else here is a dev tool.
    'import/no-extraneous-dependencies': ['error', { devDependencies: true, packageDir: ['.', './relay'] }],
  },
});

// Lambda code gets the AWS SDK from the Lambda runtime (esbuild leaves @aws-sdk/* external).
project.eslint?.allowDevDeps('src/tracker/**');
project.eslint?.allowDevDeps('src/endpoints/**');
project.eslint?.allowDevDeps('src/reconciler/**');

// The dev tsconfig (tests, lint) covers the library, its tests and this file; the Bun code (relay, harness,
// bench) has its own, relay/tsconfig.json. (jest still loads the few harness modules written for Node too.)
project.tsconfigDev.addInclude('.projenrc.ts');
for (const bunDir of ['relay', 'harness', 'bench']) project.tsconfigDev.addExclude(bunDir);

// ---------------------------------------------------------------------------
// The relay: Bun code shipped inside the npm package (the construct builds its
// image from it), type-checked here but never compiled by jsii.
// ---------------------------------------------------------------------------
new JsonFile(project, 'relay/package.json', {
  obj: {
    name: 'transwrap-relay',
    private: true,
    description: 'The relay image: Bun WebSocket server piping browser media into FFmpeg.',
    type: 'module',
    dependencies: { 'jose': JOSE_VERSION, 'tldts': TLDTS_VERSION, 'ipaddr.js': IPADDR_VERSION, 'mediabunny': MEDIABUNNY_VERSION },
  },
});

new javascript.TypescriptConfig(project, {
  fileName: 'relay/tsconfig.json',
  // The relay, and the harness and benchmark that drive it: all Bun code, all checked the same way.
  include: ['src/**/*.ts', 'test/**/*.ts', 'public/**/*.ts', 'demo/**/*.ts', '../harness/**/*.ts', '../bench/**/*.ts'],
  compilerOptions: {
    target: 'ES2022',
    module: 'ESNext',
    moduleResolution: javascript.TypeScriptModuleResolution.BUNDLER,
    lib: ['ES2022', 'DOM', 'DOM.Iterable'],
    types: ['bun'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    noFallthroughCasesInSwitch: true,
    allowImportingTsExtensions: true,
    isolatedModules: true,
  },
});

// The tarball ships the compiled library, the bundled Lambda assets and the relay
// sources (without the relay's tests); never the TypeScript sources or test suites.
project.npmignore?.include('/relay/');
project.npmignore?.exclude('/.tools/', '/relay/test/', '/relay/demo/', '/relay/tsconfig.json', '/relay/node_modules/', '/scripts/', '/bench/', '/harness/', '/docs/', '/.ci/', '/test-reports/', '/tsconfig.dev.json');

// ---------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------
const sysdeps = project.addTask('sysdeps', {
  description: 'Install (or name the command to install) FFmpeg, nginx with RTMP, and Chromium',
  exec: 'bash scripts/ensure-system-deps.sh',
});

const relayTypecheck = project.addTask('relay:typecheck', {
  description: 'Type-check the Bun code: relay, harness and bench (not compiled by jsii)',
  exec: 'tsc -p relay/tsconfig.json',
});

project.addTask('relay:lock', {
  description: 'Regenerate relay/bun.lock after relay/package.json changes (the image installs with --frozen-lockfile)',
  exec: 'cd relay && bun install --lockfile-only',
});

const relayTest = project.addTask('test:relay', {
  description: 'Run the relay suites with bun test (real FFmpeg, real nginx-rtmp)',
  exec: 'bun test --timeout 120000 --reporter=junit --reporter-outfile=test-reports/relay-junit.xml relay/test',
});

const jestTask = project.tasks.tryFind('test')!;
jestTask.reset();
jestTask.description = 'Run every suite: the construct and Lambda (jest) and the relay (bun test)';
jestTask.spawn(sysdeps);
// The package checks (tarball contents, Python bindings) and the construct tests need
// the compiled library and the bundled Lambdas, so a fresh clone builds them first.
jestTask.spawn(project.tasks.tryFind('pre-compile')!);
jestTask.spawn(project.tasks.tryFind('compile')!);
jestTask.spawn(relayTypecheck);
jestTask.exec('jest --ci --passWithNoTests=false');
jestTask.spawn(relayTest);
jestTask.spawn(project.tasks.tryFind('eslint')!);

// Accepting new snapshots is this explicit task, never part of `test`.
project.tasks.tryFind('test:update')!.reset('jest -u --passWithNoTests');

// `build` packages the npm tarball only: a Python wheel needs setuptools from PyPI, which the
// release workflow's own `package:python` job has; the test task checks the generated Python code.
const packageTask = project.tasks.tryFind('package')!;
packageTask.reset();
packageTask.spawn(project.tasks.tryFind('package:js')!);

project.addTask('integ:deploy', {
  description: 'Deploy the integration test (test/integ.relay.ts) to the current AWS account, wait for its assertions, destroy it',
  // Destroyed whether or not the assertions held; the exit status is the deploy's.
  exec: `cdk deploy ${INTEG_APP} --all --require-approval never; status=$?; cdk destroy ${INTEG_APP} --all --force; exit $status`,
});

project.addTask('demo', {
  description: 'Run the relay on loopback with auth off and an embedded RTMP sink; prints the page URL',
  steps: [{ spawn: sysdeps.name }, { exec: 'bun relay/demo/demo.ts' }],
});

project.addTask('bench', {
  description: 'Benchmark: streams per core, start-up time and relay delay, written to bench/results.*',
  steps: [{ spawn: sysdeps.name }, { exec: 'bun bench/run-bench.ts' }],
});

project.addTask('soak', {
  description: 'Soak: 20 sessions for 10 minutes with injected faults',
  steps: [{ spawn: sysdeps.name }, { exec: 'bun bench/soak.ts' }],
});

project.synth();
