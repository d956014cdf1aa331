import { createServer } from 'http';
import { close, listen } from '../support/loopback-server';

/** A task as the stand-in describes it (times in epoch seconds, as ECS's JSON protocol carries them). */
export interface StubTask {
  readonly taskArn: string;
  readonly serviceName: string;
  readonly lastStatus: string;
  readonly desiredStatus: string;
  readonly version: number;
  readonly eniId?: string;
  readonly privateIp?: string;
  readonly startedAt?: number;
  readonly stoppingAt?: number;
  readonly stoppedAt?: number;
}

export interface EcsStub {
  readonly endpoint: string;
  readonly clusterArn: string;
  /** The cluster's services by name: ListTasks of any other service fails with ServiceNotFoundException. */
  readonly services: Set<string>;
  /** The cluster's tasks by ARN; change them between runs. */
  readonly tasks: Map<string, StubTask>;
  /** Every action received, with its cluster, in order (e.g. `ListTasks <cluster ARN>`). */
  readonly calls: string[];
  close(): Promise<void>;
}

/**
 * ECS has no local implementation; this HTTP server speaks the part of its JSON 1.1 API the reconciler uses
 * (ListTasks with serviceName and desiredStatus, DescribeTasks) over one in-memory cluster, so the real
 * ECSClient (serialisation, AWS_ENDPOINT_URL_ECS, error and timestamp parsing) stays in the loop.
 */
export async function startEcsStub(clusterArn: string): Promise<EcsStub> {
  const tasks = new Map<string, StubTask>();
  const services = new Set<string>();
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', c => { body += c; });
    req.on('end', () => {
      const action = String(req.headers['x-amz-target'] ?? '').split('.').pop();
      const input = JSON.parse(body || '{}');
      calls.push(`${action} ${input.cluster}`);
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(json));
      };
      if (input.cluster !== clusterArn) {
        reply(400, { __type: 'ClusterNotFoundException', message: 'Cluster not found.' });
        return;
      }
      if (action === 'ListTasks') {
        const wanted = input.desiredStatus ?? 'RUNNING';
        if (!services.has(input.serviceName)) {
          reply(400, { __type: 'ServiceNotFoundException', message: 'Service not found.' });
          return;
        }
        const listed = [...tasks.values()].filter(t => t.serviceName === input.serviceName && t.desiredStatus === wanted);
        reply(200, { taskArns: listed.map(t => t.taskArn) });
        return;
      }
      if (action === 'DescribeTasks') {
        const described = (input.tasks as string[]).map(arn => tasks.get(arn)).filter(t => t !== undefined).map(t => ({
          taskArn: t.taskArn,
          clusterArn,
          group: `service:${t.serviceName}`,
          lastStatus: t.lastStatus,
          desiredStatus: t.desiredStatus,
          version: t.version,
          availabilityZone: 'us-west-2a',
          createdAt: (t.startedAt ?? 1_764_000_000) - 30,
          startedAt: t.startedAt,
          stoppingAt: t.stoppingAt,
          stoppedAt: t.stoppedAt,
          attachments: t.eniId === undefined ? [] : [{
            id: 'a1b2c3d4-0000-4000-8000-000000000000',
            type: 'ElasticNetworkInterface',
            status: 'ATTACHED',
            details: [
              { name: 'subnetId', value: 'subnet-abcd1234' },
              { name: 'networkInterfaceId', value: t.eniId },
              { name: 'macAddress', value: '0a:00:00:00:00:01' },
              { name: 'privateIPv4Address', value: t.privateIp ?? '10.0.0.10' },
            ],
          }],
        }));
        reply(200, { tasks: described, failures: [] });
        return;
      }
      reply(400, { __type: 'InvalidParameterException', message: `The stand-in does not implement ${action}` });
    });
  });
  const endpoint = await listen(server);
  return { endpoint, clusterArn, services, tasks, calls, close: () => close(server) };
}
