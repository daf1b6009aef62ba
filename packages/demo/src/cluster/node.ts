// One process of `pnpm demo:cluster`: a clustered gateway on the shared PostgreSQL journal, sending its
// share of the commands (for random counters, so most go to other processes' shards) and reporting progress
// and its shard count to the parent once a quarter second.
import { type ClusterGatewaySnapshot, createClusterGatewayLogic } from '@statesource/cluster'
import { createRepository, defineAggregate, silentLogger } from '@statesource/core'
import { openPostgres } from '@statesource/postgres'
import { connect } from 'nats'
import { assign, createActor, setup, spawnChild } from 'xstate'

const { pgUrl, natsUrl, schema, nodeId, commands, counters } = JSON.parse(process.argv[2] ?? '{}') as {
  pgUrl: string
  natsUrl: string
  schema: string
  nodeId: string
  commands: number
  counters: number
}
const send = (message: unknown) => process.send?.(message)

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

const db = await openPostgres(pgUrl, { schema, writerId: nodeId, listen: false, poolSize: 4 })
const nats = await connect({ servers: natsUrl, name: nodeId })
const logic = createClusterGatewayLogic({
  aggregates: [counter],
  journal: db.journal,
  lease: pgUrl,
  nats,
  nodeId,
  address: `pid-${process.pid}`,
  clusterName: schema,
  heartbeatMs: 250,
  leaseTimeoutMs: 3_000,
  commandTimeoutMs: 20_000,
  logger: silentLogger,
})
const system = createActor(
  setup({ actors: { gateway: logic } }).createMachine({
    entry: spawnChild('gateway', { systemId: 'gateway' }),
  }),
).start()
const gateway = system.system.get('gateway')!
const repository = createRepository(gateway, counter, { timeoutMs: 20_000 })
const runtime = () => (gateway.getSnapshot() as ClusterGatewaySnapshot).context.runtime

let acked = 0
let failed = 0
const report = () => send({ type: 'progress', acked, failed, owned: runtime().ownedShards().length })
const reporter = setInterval(report, 250)

process.on('message', async (message: { type: string }) => {
  if (message.type === 'go') {
    let next = 0
    const worker = async () => {
      while (next < commands) {
        const n = next++
        const id = `c-${Math.floor(Math.random() * counters)}`
        // A failed command is sent again under the same commandId: applied once whatever happened.
        for (;;) {
          try {
            await repository.send(id, { type: 'add', by: 1 }, { commandId: `${nodeId}:${n}` })
            acked++
            break
          } catch {
            failed++
          }
        }
      }
    }
    await Promise.all(Array.from({ length: 20 }, worker))
    report()
    send({ type: 'done', acked })
  } else if (message.type === 'leave') {
    clearInterval(reporter)
    await runtime().leave()
    system.stop()
    await nats.close()
    await db.close()
    process.exit(0)
  }
})
report()
send({ type: 'ready' })
