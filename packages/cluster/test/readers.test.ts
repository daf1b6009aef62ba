// Readers (projections) in a cluster of real processes: each runs in exactly one of them, under a lease, and
// moves with its durable offset when that process dies. The projection writes one row per event it applies,
// in the transaction that advances its offset, without a unique key: a duplicate would show up as a row.
import { afterEach, describe, expect, it } from 'vitest'
import {
  balanced,
  dropSchema,
  freshSchema,
  LEASE_TIMEOUT_MS,
  NATS_URL,
  Node,
  PG_URL,
  query,
  reachable,
  startLoad,
  until,
} from './cluster-harness.ts'

const [natsUp, pgUp] = await Promise.all([reachable(NATS_URL), reachable(PG_URL)])
const missing = [!natsUp && `NATS at ${NATS_URL}`, !pgUp && `PostgreSQL at ${PG_URL}`].filter(Boolean)
const skipReason = missing.length
  ? `cluster reader tests skipped: ${missing.join(' and ')} not reachable (set STATESOURCE_NATS_URL / STATESOURCE_PG_URL)`
  : ''
if (skipReason && process.env.CI === 'true') {
  throw new Error(`${skipReason}; under CI=true they must run: start the servers first.`)
}
if (skipReason) console.warn(skipReason)

const ids = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`)
const total = (load: ReturnType<typeof startLoad>) =>
  [...load.acked.values()].reduce((sum, acked) => sum + acked.length, 0)

/** Every journal event is in the projection exactly once; returns the number of events and the writers. */
async function checkProjectedExactlyOnce(schema: string): Promise<{ events: number; nodes: string[] }> {
  const [journal] = await query<{ n: string; max: string | null }>(
    `SELECT count(*) AS n, max(ordering) AS max FROM "${schema}".statesource_journal`,
  )
  const rows = await query<{ ordering: string; copies: string }>(
    `SELECT ordering, count(*) AS copies FROM "${schema}".projected GROUP BY ordering HAVING count(*) > 1`,
  )
  expect(rows, 'events projected more than once').toEqual([])
  const [missingRows] = await query<{ n: string }>(
    `SELECT count(*) AS n FROM "${schema}".statesource_journal j
      WHERE NOT EXISTS (SELECT 1 FROM "${schema}".projected p WHERE p.ordering = j.ordering)`,
  )
  expect(Number(missingRows!.n), 'journal events missing from the projection').toBe(0)
  const [projected] = await query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".projected`)
  expect(Number(projected!.n)).toBe(Number(journal!.n))
  const [offset] = await query<{ ordering: string }>(
    `SELECT ordering FROM "${schema}".statesource_projection_offset WHERE projection = 'projected'`,
  )
  expect(Number(offset!.ordering)).toBe(Number(journal!.max))
  const nodes = await query<{ node: string }>(`SELECT DISTINCT node FROM "${schema}".projected ORDER BY node`)
  return { events: Number(journal!.n), nodes: nodes.map((r) => r.node) }
}

/**
 * No two processes ran the reader at overlapping times, from their reader events (a killed process ran it
 * until it was killed); returns how many times it was started.
 */
function checkOneRunnerAtATime(nodes: readonly Node[], name: string): number {
  const intervals: { node: string; from: number; to: number }[] = []
  for (const node of nodes) {
    let from: number | undefined
    for (const event of node.readerEvents) {
      if (!event.readers.includes(name)) continue
      if (event.type === 'acquired') from = event.at
      else if (from !== undefined) {
        intervals.push({ node: node.nodeId, from, to: event.at })
        from = undefined
      }
    }
    if (from !== undefined) intervals.push({ node: node.nodeId, from, to: node.killedAt ?? Date.now() })
  }
  intervals.sort((a, b) => a.from - b.from)
  for (let i = 1; i < intervals.length; i++) {
    const [before, after] = [intervals[i - 1]!, intervals[i]!]
    if (after.from < before.to) {
      throw new Error(
        `"${name}" ran in ${before.node} until ${before.to} and in ${after.node} from ${after.from}`,
      )
    }
  }
  return intervals.length
}

describe.skipIf(Boolean(skipReason))('readers in a cluster of processes', () => {
  let schema = ''
  let nodes: Node[] = []

  afterEach(async () => {
    for (const node of nodes) {
      if (node.child.exitCode === null && node.killedAt === undefined) node.kill('SIGKILL')
    }
    await Promise.all(nodes.map((n) => n.exited))
    nodes = []
    if (schema) await dropSchema(schema)
  })

  const running = (name: string) =>
    nodes.filter((n) => n.killedAt === undefined && n.child.exitCode === null && n.readers.has(name))

  it('runs a projection in exactly one of three processes; after a SIGKILL of that process another resumes it from its offset, every event projected exactly once', async () => {
    schema = await freshSchema()
    const started = ['n1', 'n2', 'n3'].map((id) => new Node(id, schema, { reader: true }))
    nodes.push(...started)
    await Promise.all(started.map((n) => n.ready))
    await until(balanced(nodes), 'three processes to share the shards')
    await until(() => running('projected').length === 1, 'one process to run the projection')
    // The processes agree: one says it runs the projection, the other two that they do not.
    const said = await Promise.all(nodes.map((n) => n.readersFromProcess()))
    expect(said.filter((s) => s.running.includes('projected'))).toHaveLength(1)
    const load = startLoad(() => nodes, ids(30, 'p'))
    await until(() => total(load) >= 300, '300 commands')
    const victim = running('projected')[0]!
    victim.kill('SIGKILL')
    const moved = await until(
      () => running('projected').length === 1,
      'another process to take the projection',
      LEASE_TIMEOUT_MS * 10,
    )
    const before = total(load)
    await until(() => total(load) >= before + 300, '300 more commands')
    load.stop()
    await load.done
    // The projection catches up with the journal's head.
    await until(async () => {
      const [row] = await query<{ lag: string }>(
        `SELECT (SELECT coalesce(max(ordering), 0) FROM "${schema}".statesource_journal) -
                coalesce((SELECT ordering FROM "${schema}".statesource_projection_offset WHERE projection = 'projected'), 0) AS lag`,
      )
      return Number(row!.lag) === 0
    }, 'the projection to catch up')
    const { events, nodes: writers } = await checkProjectedExactlyOnce(schema)
    expect(running('projected')).toHaveLength(1)
    const runs = checkOneRunnerAtATime(nodes, 'projected')
    expect(writers).toContain(victim.nodeId)
    expect(writers).toContain(running('projected')[0]!.nodeId)
    console.info(
      `[cluster] readers: ${events} events projected exactly once; the projection moved from ${victim.nodeId} to ${running('projected')[0]!.nodeId} ${moved} ms after the SIGKILL; ${runs} runs, never two at once`,
    )
  })

  it('a process that leaves hands its projection over; the others never run it at the same time', async () => {
    schema = await freshSchema()
    const started = ['n1', 'n2'].map((id) => new Node(id, schema, { reader: true }))
    nodes.push(...started)
    await Promise.all(started.map((n) => n.ready))
    await until(() => running('projected').length === 1, 'one process to run the projection')
    const load = startLoad(() => nodes, ids(10, 'l'))
    await until(() => total(load) >= 100, '100 commands')
    const first = running('projected')[0]!
    const other = nodes.find((n) => n !== first)!
    await first.leave()
    await until(() => other.readers.has('projected'), 'the other process to take the projection')
    const before = total(load)
    await until(() => total(load) >= before + 100, '100 more commands')
    load.stop()
    await load.done
    await until(async () => {
      const said = await other.readersFromProcess()
      const [head] = await query<{ max: string }>(
        `SELECT coalesce(max(ordering), 0) AS max FROM "${schema}".statesource_journal`,
      )
      return said.status.some((s) => s.name === 'projected' && s.offset === Number(head!.max))
    }, 'the projection to catch up')
    // The leaving process released the projection (it was not lost) before the other one started it.
    expect(first.readerEvents.at(-1)).toMatchObject({ type: 'released', readers: ['projected'] })
    expect(checkOneRunnerAtATime(nodes, 'projected')).toBeGreaterThanOrEqual(2)
    await checkProjectedExactlyOnce(schema)
  })
})
