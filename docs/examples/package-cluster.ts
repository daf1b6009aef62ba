// #region cluster
import { createClusterGatewayLogic, shardOf } from '@statesource/cluster'
import { defineAggregate } from '@statesource/core'
import { openPostgres } from '@statesource/postgres'
import { connect } from 'nats'
import { createActor, setup, spawnChild } from 'xstate'

const counter = defineAggregate({
  type: 'counter',
  machine: setup({ types: { events: {} as { type: 'incremented' } } }).createMachine({
    id: 'counter',
    on: { incremented: { actions: () => {} } },
  }),
  commands: { increment: () => ({ type: 'incremented' }) },
})

/** One gateway process of a cluster: run it in several processes against the same PostgreSQL and NATS. */
export async function startNode(pgUrl: string, natsUrl: string, nodeId: string) {
  const db = await openPostgres(pgUrl, { writerId: nodeId })
  const nats = await connect({ servers: natsUrl, name: nodeId, maxReconnectAttempts: -1 })
  const gateway = createClusterGatewayLogic({
    aggregates: [counter],
    journal: db.journal,
    lease: pgUrl,
    nats,
    nodeId,
  })
  const app = createActor(
    setup({ actors: { gateway } }).createMachine({ entry: spawnChild('gateway', { systemId: 'gateway' }) }),
  ).start()
  return { app, db, nats, shardOfC1: shardOf(counter.persistenceId('c-1')) }
}
// #endregion cluster
