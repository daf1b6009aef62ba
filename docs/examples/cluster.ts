// The cluster guide's example. Run by packages/cluster/test/docs-example.test.ts against the test servers
// (it needs PostgreSQL and NATS, which the docs tests do not have).

// #region node
import { type ClusterGatewaySnapshot, createClusterGatewayLogic } from '@statesource/cluster'
import { CqrsPattern, createRepository, defineAggregate, silentLogger } from '@statesource/core'
import { createPostgresProjection, openPostgres, type StatesourcePostgres } from '@statesource/postgres'
import { sql } from 'kysely'
import { connect } from 'nats'
import { type AnyActorRef, assign, createActor, setup, spawnChild } from 'xstate'

export async function startNode(options: { pgUrl: string; natsUrl: string; nodeId: string; schema: string }) {
  const db = await openPostgres(options.pgUrl, { schema: options.schema, writerId: options.nodeId })
  // Never give up reconnecting: a NATS restart then costs a pause, not the process's routing.
  const nats = await connect({ servers: options.natsUrl, name: options.nodeId, maxReconnectAttempts: -1 })
  const gateway = createClusterGatewayLogic({
    aggregates: [counter],
    journal: db.journal, // the shared journal: its expected sequence numbers are the fence
    lease: options.pgUrl, // one dedicated connection holds this process's shard locks
    nats, // commands for shards owned elsewhere go to their owner by request/reply
    nodeId: options.nodeId, // unique per process; shown in pg_stat_activity
    clusterName: options.schema,
    logger: silentLogger,
  })
  // Spawned in your own system exactly like the single-process gateway.
  const system = createActor(
    setup({ actors: { gateway } }).createMachine({ entry: spawnChild('gateway', { systemId: 'gateway' }) }),
  ).start()
  const ref = system.system.get('gateway')!
  const counters = createRepository(ref, counter) // the same repository API, from any process
  const leave = async () => {
    // Hand every shard off (in-flight commands finish), then release the locks.
    await (ref.getSnapshot() as ClusterGatewaySnapshot).context.runtime.leave()
    system.stop()
    await nats.close()
    await db.close()
  }
  return { counters, ref, db, leave }
}
// #endregion node

// #region readers
/** The projections of a node: each runs in one process of the cluster, whichever holds its lease. */
export async function startReaders(db: StatesourcePostgres, gateway: AnyActorRef) {
  const builder = CqrsPattern.builder({ journal: db.journal })
    .withAggregate(counter)
    .readJournal(db.readJournal())
    .offsetStore(db.offsetStore) // where the next process to run it resumes from
    .logger(silentLogger)
  const table = sql.table(`${db.schema}.totals`)
  const totals = builder.withReader(
    await createPostgresProjection({
      pg: db,
      name: 'totals',
      setup: (k) =>
        sql`CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, total int NOT NULL)`.execute(k),
      initialState: undefined,
      // Runs in the transaction that advances the offset: exactly once, wherever the reader runs.
      apply: async (state, event, envelope, tx) => {
        if (event.type === 'added')
          await sql`INSERT INTO ${table} AS t VALUES (${envelope.persistenceId}, ${event.by})
            ON CONFLICT (id) DO UPDATE SET total = t.total + excluded.total`.execute(tx)
        return state
      },
    }),
  )
  // Given the clustered gateway, materialize hands the readers to its leases instead of starting them here.
  const handles = await builder.build().materialize({ gateway })
  return { handles, totals }
}
// #endregion readers

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

export async function main(
  options: { pgUrl: string; natsUrl: string; schema: string },
  log: (line: string) => void = console.log,
) {
  const node = await startNode({ ...options, nodeId: 'docs-1' })
  const { handles, totals } = await startReaders(node.db, node.ref)
  // The first command may wait for the node to take its shards (retried within the command's timeout).
  const result = await node.counters.send('c-1', { type: 'add', by: 2 }, { commandId: 'docs-c-1-1' })
  log(`c-1 at version ${result.version}`)
  const again = await node.counters.send('c-1', { type: 'add', by: 2 }, { commandId: 'docs-c-1-1' })
  log(`the same commandId again: duplicate=${again.duplicate}, version ${again.version}`)
  // Read your write: this process is the only one, so it holds the projection's lease.
  await totals.waitForOffset(result.ordering, { timeout: 10_000 })
  const runtime = (node.ref.getSnapshot() as ClusterGatewaySnapshot).context.runtime
  log(`readers running here: ${runtime.runningReaders().join(', ')}`)
  await handles.stop()
  await node.leave()
}
