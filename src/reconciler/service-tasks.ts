// The relay service's tasks as ECS lists them now, each as the task state an event about it would carry.
import { DescribeTasksCommand, ECSClient, ListTasksCommand, Task } from '@aws-sdk/client-ecs';
import { DETAIL_TYPE, parseTaskEvent, TaskState } from '../tracker/task-event';

/** Which service's tasks. */
export interface ServiceRef {
  readonly clusterArn: string;
  readonly serviceName: string;
}

/** DescribeTasks takes at most this many tasks per call. */
const DESCRIBE_BATCH = 100;

/**
 * Every task of the service ECS lists: those it wants running and those it has stopped or is stopping
 * (ECS lists stopped tasks for at least an hour). A service that no longer exists has none.
 */
export async function listServiceTasks(ecs: ECSClient, service: ServiceRef): Promise<Task[]> {
  const arns: string[] = [];
  const { clusterArn: cluster, serviceName } = service;
  for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
    let nextToken: string | undefined;
    do {
      try {
        const page = await ecs.send(new ListTasksCommand({ cluster, serviceName, desiredStatus, nextToken }));
        arns.push(...page.taskArns ?? []);
        nextToken = page.nextToken;
      } catch (e) {
        if ((e as Error).name === 'ServiceNotFoundException') return [];
        throw e;
      }
    } while (nextToken);
  }
  const tasks: Task[] = [];
  for (let i = 0; i < arns.length; i += DESCRIBE_BATCH) {
    const out = await ecs.send(new DescribeTasksCommand({ cluster: service.clusterArn, tasks: arns.slice(i, i + DESCRIBE_BATCH) }));
    tasks.push(...out.tasks ?? []);
  }
  return tasks;
}

const iso = (d: Date | undefined) => d?.toISOString();

/**
 * The state the registry should hold for a described task, reached through the very parser the event path
 * uses, so a reconciled item is exactly the item the task's last event would have written. DescribeTasks
 * has no `updatedAt`: the time of the task's last change stands in (started, stopping, stopped).
 * @returns undefined for a task in a state the registry does not track (PENDING, …) or one ECS describes incompletely
 */
export function taskStateOf(task: Task, now: Date): TaskState | undefined {
  const detail = {
    taskArn: task.taskArn,
    clusterArn: task.clusterArn,
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    version: task.version,
    group: task.group,
    availabilityZone: task.availabilityZone,
    startedAt: iso(task.startedAt),
    stoppedAt: iso(task.stoppedAt),
    updatedAt: iso(task.stoppedAt ?? task.stoppingAt ?? task.startedAt ?? task.createdAt),
    // DescribeTasks names the attachment type in full; events call it `eni`.
    attachments: task.attachments?.map(a => ({ ...a, type: a.type === 'ElasticNetworkInterface' ? 'eni' : a.type })),
  };
  const parsed = parseTaskEvent({ 'detail-type': DETAIL_TYPE, 'detail': detail }, now);
  return parsed.kind === 'task' ? parsed.task : undefined;
}
