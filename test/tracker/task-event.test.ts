// Unit tests of the pure event → registry item mapping (the handler tests cover it end to end against dynalite).
import { FIXTURE_ENI_ID, FIXTURE_TASK_ARN, taskEvent } from './harness';
import { mapStatus, parseTaskEvent, TaskState, toItem, tombstoneExpiry } from '../../src/tracker/task-event';

const NOW = new Date('2026-11-28T12:00:00.000Z');

test.each([
  ['RUNNING', 'RUNNING', 'RUNNING'],
  ['RUNNING', 'STOPPED', 'DRAINING'],
  ['STOPPED', 'STOPPED', 'STOPPED'],
  ['STOPPED', 'RUNNING', 'STOPPED'],
  ['PENDING', 'RUNNING', undefined],
  ['PROVISIONING', 'RUNNING', undefined],
  ['ACTIVATING', 'RUNNING', undefined],
  ['DEACTIVATING', 'STOPPED', undefined],
  ['STOPPING', 'STOPPED', undefined],
  ['DEPROVISIONING', 'STOPPED', undefined],
])('lastStatus %s, desiredStatus %s → %s', (lastStatus, desiredStatus, expected) => {
  expect(mapStatus(lastStatus, desiredStatus)).toBe(expected);
});

test('the unchanged AWS sample parses to a RUNNING task with its ENI', () => {
  expect(parseTaskEvent(taskEvent(), NOW)).toEqual({
    kind: 'task',
    task: {
      taskArn: FIXTURE_TASK_ARN,
      clusterArn: 'arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster',
      status: 'RUNNING',
      version: 4,
      group: 'family:sample-fargate',
      availabilityZone: 'us-west-2c',
      startedAt: '2020-01-23T17:57:58.103Z',
      updatedAt: '2020-01-23T17:57:58.103Z',
      stoppedAt: undefined,
      networkInterfaceId: FIXTURE_ENI_ID,
      privateIp: '10.0.0.139',
    },
  });
});

test('untracked statuses are reported as ignored with what was seen', () => {
  expect(parseTaskEvent(taskEvent({ lastStatus: 'PENDING', version: 2 }), NOW))
    .toEqual({ kind: 'ignored', taskArn: FIXTURE_TASK_ARN, lastStatus: 'PENDING', desiredStatus: 'RUNNING', version: 2 });
});

test('a malformed event keeps the taskArn (when there is one) for the log line', () => {
  const event = taskEvent();
  event.detail.version = null;
  expect(parseTaskEvent(event, NOW)).toEqual({ kind: 'malformed', reason: 'detail.version is not a non-negative integer (null)', taskArn: FIXTURE_TASK_ARN });
});

test('updatedAt falls back to now when the event has none', () => {
  const event = taskEvent();
  delete event.detail.updatedAt;
  const parsed = parseTaskEvent(event, NOW);
  expect(parsed.kind === 'task' && parsed.task.updatedAt).toBe('2026-11-28T12:00:00.000Z');
});

describe('tombstone expiry is one day after the stop, in epoch seconds', () => {
  const base: TaskState = { taskArn: 'a', clusterArn: 'c', status: 'STOPPED', version: 9, updatedAt: '2020-01-23T18:00:00.999Z' };
  test('from stoppedAt when present', () => {
    expect(tombstoneExpiry({ ...base, stoppedAt: '2020-01-23T17:59:00.500Z' })).toBe(1579802340 + 86_400);
  });
  test('else from updatedAt', () => {
    expect(tombstoneExpiry(base)).toBe(1579802400 + 86_400);
  });
});

test('a STOPPED item has expiresAt and never a publicIp', () => {
  const task: TaskState = { taskArn: 'a', clusterArn: 'c', status: 'STOPPED', version: 9, updatedAt: '2020-01-23T18:00:00.000Z', privateIp: '10.0.0.1' };
  expect(toItem(task, { port: 443, publicIp: '203.0.113.1' })).toEqual({
    taskArn: { S: 'a' },
    clusterArn: { S: 'c' },
    status: { S: 'STOPPED' },
    port: { N: '443' },
    updatedAt: { S: '2020-01-23T18:00:00.000Z' },
    version: { N: '9' },
    privateIp: { S: '10.0.0.1' },
    expiresAt: { N: String(1579802400 + 86_400) },
  });
});
