// The clustered gateway in one process: the errors a caller sees before and instead of routing.
import {
  createInMemoryJournal,
  createRepository,
  defineAggregate,
  isStatesourceError,
  type Journal,
  silentLogger,
} from '@statesource/core'
import { connect, type NatsConnection } from 'nats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assign, createActor, setup } from 'xstate'
import { createClusterGatewayLogic } from '../src/index.ts'
import { NATS_URL, reachable } from './cluster-harness.ts'

const natsUp = await reachable(NATS_URL)
if (!natsUp && process.env.CI === 'true')
  throw new Error(`NATS at ${NATS_URL} is not reachable; under CI=true these tests must run.`)
if (!natsUp) console.warn(`clustered gateway tests skipped: NATS at ${NATS_URL} is not reachable`)

const counter = defineAggregate({
  type: 'counter',
  machine: setup({
    types: { context: {} as { total: number }, events: {} as { type: 'added'; by: number } },
  }).createMachine({
    id: 'counter',
    context: { total: 0 },
    on: { added: { actions: assign({ total: ({ context, event }) => context.total + event.by }) } },
  }),
  commands: { add: (cmd: { by: number }) => ({ type: 'added', by: cmd.by }) },
})

describe.skipIf(!natsUp)('the clustered gateway on its own', () => {
  let nats: NatsConnection
  const journal: Journal = createInMemoryJournal()
  beforeAll(async () => {
    nats = await connect({ servers: NATS_URL })
  })
  afterAll(async () => {
    await nats.close()
  })

  // A lease server nobody listens on: this process never owns a shard, and nobody else does either.
  const orphan = () =>
    createActor(
      createClusterGatewayLogic({
        aggregates: [counter],
        journal,
        lease: 'postgres://postgres@127.0.0.1:1/none',
        nats,
        nodeId: 'lonely',
        clusterName: `orphan-${Math.random().toString(16).slice(2)}`,
        logger: silentLogger,
      }),
    ).start()

  it('fails with SHARD_UNAVAILABLE, naming the shard and the commandId to retry with, when no process owns the shard', async () => {
    const gateway = orphan()
    const counters = createRepository(gateway, counter)
    const error = await counters
      .send('c-1', { type: 'add', by: 1 }, { timeoutMs: 300, commandId: 'cmd-1' })
      .catch((e: unknown) => e)
    expect(isStatesourceError(error, 'SHARD_UNAVAILABLE')).toBe(true)
    expect((error as Error).message).toMatch(
      /^Command "add" for "counter\|c-1" found no owner of shard \d+ before its 300 ms timeout \(\d+ attempts\)\. .*retry with the same commandId "cmd-1"\.$/,
    )
    gateway.stop()
  })

  it('refuses an unknown aggregate type and an empty id before routing', async () => {
    const gateway = orphan()
    const other = defineAggregate({ ...counter, type: 'other' } as never) as typeof counter
    await expect(createRepository(gateway, other).send('x', { type: 'add', by: 1 })).rejects.toMatchObject({
      code: 'NOT_CONFIGURED',
    })
    await expect(createRepository(gateway, counter).send('', { type: 'add', by: 1 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    gateway.stop()
    await expect(createRepository(gateway, counter).send('x', { type: 'add', by: 1 })).rejects.toMatchObject({
      code: 'GATEWAY_STOPPED',
    })
  })
})
