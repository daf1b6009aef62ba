// The cluster with real OS processes, the real PostgreSQL server and the real NATS server. Each test runs in
// a schema of its own, which is also the cluster's name (so leases and subjects never mix between runs).
import { afterEach, describe, expect, it } from 'vitest'
import { shardOf } from '../src/index.ts'
import {
  balanced,
  checkExactlyOnceInOrder,
  checkSingleWriter,
  dropSchema,
  freshSchema,
  hasNatsServer,
  journalById,
  LEASE_TIMEOUT_MS,
  NATS_SERVER,
  NATS_URL,
  Node,
  PG_URL,
  PrivateNats,
  reachable,
  startLoad,
  until,
} from './cluster-harness.ts'

const [natsUp, pgUp] = await Promise.all([reachable(NATS_URL), reachable(PG_URL)])
const missing = [!natsUp && `NATS at ${NATS_URL}`, !pgUp && `PostgreSQL at ${PG_URL}`].filter(Boolean)
const skipReason = missing.length
  ? `cluster tests skipped: ${missing.join(' and ')} not reachable (set STATESOURCE_NATS_URL / STATESOURCE_PG_URL)`
  : ''
if (skipReason && process.env.CI === 'true') {
  throw new Error(`${skipReason}; under CI=true they must run: start the servers first.`)
}
if (skipReason) console.warn(skipReason)

const ids = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`)

describe.skipIf(Boolean(skipReason))('a cluster of gateway processes on one PostgreSQL journal', () => {
  let schema = ''
  let nodes: Node[] = []
  let privateNats: PrivateNats | undefined

  afterEach(async () => {
    for (const node of nodes) {
      if (node.child.exitCode === null && node.killedAt === undefined) {
        node.kill('SIGCONT')
        node.kill('SIGKILL')
      }
    }
    await Promise.all(nodes.map((n) => n.exited))
    nodes = []
    await privateNats?.down()
    privateNats = undefined
    if (schema) await dropSchema(schema)
  })

  async function start(count: number, prefix = 'n'): Promise<Node[]> {
    const started = Array.from(
      { length: count },
      (_, i) => new Node(`${prefix}${nodes.length + i + 1}`, schema),
    )
    nodes.push(...started)
    await Promise.all(started.map((n) => n.ready))
    return started
  }

  it('three processes under load: every acknowledged command exactly once, in order, one writer per id at a time; a fourth joins', async () => {
    schema = await freshSchema()
    await start(3)
    await until(balanced(nodes), 'three processes to share the 1,024 shards')
    const load = startLoad(() => nodes, ids(40, 'c'))
    await until(() => [...load.acked.values()].reduce((s, a) => s + a.length, 0) >= 400, '400 commands')
    // A fourth process joins under load: the others hand shards off to it.
    await start(1)
    await until(balanced(nodes), 'four processes to share the shards')
    const before = [...load.acked.values()].reduce((s, a) => s + a.length, 0)
    await until(
      () => [...load.acked.values()].reduce((s, a) => s + a.length, 0) >= before + 300,
      '300 more commands',
    )
    load.stop()
    await load.done
    const byId = await journalById(schema)
    const events = checkExactlyOnceInOrder(load, byId)
    const { intervals, late } = checkSingleWriter(nodes, byId)
    const handedOff = nodes
      .slice(0, 3)
      .reduce((s, n) => s + n.shardEvents.filter((e) => e.type === 'released').length, 0)
    console.info(
      `[cluster] 3→4 processes: ${events} events checked exactly once and in order, ${intervals} ownership intervals (${late} late appends continuing the writer's own history, let through by the fence), ${handedOff} shards handed off to the fourth, failures seen by senders: ${JSON.stringify(Object.fromEntries(load.failures))}`,
    )
    expect(handedOff).toBeGreaterThanOrEqual(1024 - Math.ceil(1024 / 4) * 3)
    expect(nodes[3]!.owned.size).toBeGreaterThan(0)
    // Writers of the journal: all four processes applied commands.
    const writers = new Set([...byId.values()].flat().map((r) => r.writer_id))
    expect([...writers].sort()).toEqual(['n1', 'n2', 'n3', 'n4'])
  })

  it('SIGKILL of an owner under load: its shards move, nothing acknowledged is lost, nothing is applied twice', async () => {
    schema = await freshSchema()
    await start(3)
    await until(balanced(nodes), 'three processes to share the shards')
    const load = startLoad(() => nodes, ids(40, 'k'))
    await until(() => [...load.acked.values()].reduce((s, a) => s + a.length, 0) >= 300, '300 commands')
    const victim = nodes[0]!
    const victimShards = [...victim.owned]
    victim.kill('SIGKILL')
    const moved = await until(
      () => {
        const live = nodes.filter((n) => n !== victim)
        return victimShards.every((s) => live.some((n) => n.owned.has(s)))
      },
      "the killed process's shards to move",
      LEASE_TIMEOUT_MS * 10,
    )
    const before = [...load.acked.values()].reduce((s, a) => s + a.length, 0)
    await until(
      () => [...load.acked.values()].reduce((s, a) => s + a.length, 0) >= before + 300,
      '300 more commands',
    )
    load.stop()
    await load.done
    const byId = await journalById(schema)
    const events = checkExactlyOnceInOrder(load, byId)
    const { intervals, late } = checkSingleWriter(nodes, byId)
    console.info(
      `[cluster] SIGKILL: ${victimShards.length} shards moved in ${moved} ms (lease timeout ${LEASE_TIMEOUT_MS} ms); ${events} events exactly once and in order; ${intervals} ownership intervals (${late} late appends let through by the fence); failures seen by senders: ${JSON.stringify(Object.fromEntries(load.failures))}`,
    )
    expect(moved).toBeLessThan(LEASE_TIMEOUT_MS * 10)
    expect(events).toBeGreaterThanOrEqual(600)
  })

  it('SIGSTOP then SIGCONT: the paused owner loses its shards, its stale write is refused by the journal, and it stops those actors', async () => {
    schema = await freshSchema()
    const [a, b] = await start(2)
    await until(balanced(nodes), 'two processes to share the shards')
    // An id whose shard the first process owns, live there at version 1.
    const id = ids(200, 's').find((candidate) => a!.owned.has(shardOf(`counter|${candidate}`)))!
    const shard = shardOf(`counter|${id}`)
    expect((await a!.send({ id, sender: 't', n: 1, commandId: 't:1' })).ok).toBe(true)
    // The second command is decided on the first process, which then holds it before appending …
    const held = a!.send({ id, sender: 't', n: 2, commandId: 't:2', holdMs: 1_000 })
    await new Promise((resolve) => setTimeout(resolve, 200))
    // … and is paused while it holds it.
    a!.kill('SIGSTOP')
    await until(() => b!.owned.has(shard), "the paused process's shard to move", LEASE_TIMEOUT_MS * 10)
    // The new owner serves the id and moves it on: the paused process's in-memory state is now stale.
    expect((await b!.send({ id, sender: 'u', n: 1, commandId: 'u:1' })).ok).toBe(true)
    a!.kill('SIGCONT')
    // The held command resumes: its append is refused by the fence and it is routed to the new owner.
    const result = await held
    expect(result, JSON.stringify(result)).toMatchObject({ ok: true, version: 3 })
    await until(
      () => a!.shardEvents.some((e) => e.type === 'lost' && e.shards.includes(shard)),
      'the paused process to notice',
    )
    expect(a!.fenced.map((f) => f.persistenceId)).toContain(`counter|${id}`)
    const owned = await a!.ownedFromProcess()
    const rows = (await journalById(schema)).get(`counter|${id}`)!
    expect(rows.map((r) => [Number(r.seq_nr), r.writer_id, r.payload.sender, r.payload.n])).toEqual([
      [1, 'n1', 't', 1],
      [2, 'n2', 'u', 1],
      [3, 'n2', 't', 2],
    ])
    console.info(
      `[cluster] SIGSTOP/SIGCONT: shard ${shard} moved to n2; n1's held append was fenced (${a!.fenced.length} refused), n1 reported the loss and stopped those actors (it owned ${owned.shards.length} shards right after, rejoining)`,
    )
  })

  // Under CI the binary is there (the machine runs NATS from it); elsewhere the test says why it did not run.
  it.skipIf(!hasNatsServer && process.env.CI !== 'true')(
    `NATS restarted under load (a server of the test's own from ${NATS_SERVER}): commands complete or fail typed, and the cluster goes on by itself`,
    async () => {
      schema = await freshSchema()
      privateNats = await PrivateNats.start()
      const server = privateNats
      const started = [1, 2, 3].map((i) => new Node(`n${i}`, schema, { natsUrl: server.url }))
      nodes.push(...started)
      await Promise.all(started.map((n) => n.ready))
      await until(balanced(nodes), 'three processes to share the shards')
      const acked = (load: ReturnType<typeof startLoad>) =>
        [...load.acked.values()].reduce((s, a) => s + a.length, 0)
      const load = startLoad(() => nodes, ids(30, 'r'))
      await until(() => acked(load) >= 200, '200 commands')
      await server.down()
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      await server.up()
      const before = acked(load)
      const resumed = await until(() => acked(load) >= before + 300, 'the load to go on after NATS came back')
      load.stop()
      await load.done
      const byId = await journalById(schema)
      const events = checkExactlyOnceInOrder(load, byId)
      const failures = Object.fromEntries(load.failures)
      console.info(
        `[cluster] NATS restart: ${events} events exactly once and in order; 300 more commands acknowledged ${resumed} ms after the server came back; failures seen by senders: ${JSON.stringify(failures)}`,
      )
      for (const code of Object.keys(failures)) expect(['TIMEOUT', 'SHARD_UNAVAILABLE']).toContain(code)
    },
  )
})
