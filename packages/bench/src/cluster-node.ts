// One gateway process of the cluster benchmark, driven over IPC: reports its shard count, then on "load"
// sends commands for random ids through its own repository (most of them owned by other processes), or on
// "latency" times sequential commands to ids it owns against ids another process owns, interleaved, beside a
// bare NATS round trip to that other process (what routing cannot go below).
import { createClusterNode } from '@statesource/demo/cluster-node'

interface NodeOptions {
  readonly pgUrl: string
  readonly natsUrl: string
  readonly schema: string
  readonly nodeId: string
}

const options = JSON.parse(process.argv[2] ?? '{}') as NodeOptions
const send = (message: unknown) => process.send?.(message)

// The same gateway process as the cluster demo's, with the benchmark's timeouts.
const node = await createClusterNode({ ...options, leaseTimeoutMs: 10_000, commandTimeoutMs: 30_000 })
const { counters, runtime, nats } = node
// The bare round trip other processes time against: an echo, no decoding.
const echoSubject = (nodeId: string) => `bench.${options.schema}.echo.${nodeId}`
nats.subscribe(echoSubject(options.nodeId), { callback: (_error, msg) => msg.respond(msg.data) })

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

async function load(message: { ids: number; concurrency: number; durationMs: number; warmMs: number }) {
  let commands = 0
  let errors = 0
  // Warm-up (not counted): every id gets recovered on its owner before the measured window.
  const warmUntil = performance.now() + message.warmMs
  let round = 0
  const run = (until: number) =>
    Promise.all(Array.from({ length: message.concurrency }, (_, w) => worker(w, until)))
  const worker = async (w: number, until: number) => {
    let n = 0
    while (performance.now() < until) {
      const id = `c-${Math.floor(Math.random() * message.ids)}`
      try {
        await counters.send(
          id,
          { type: 'add', by: 1 },
          { commandId: `${options.nodeId}:${round}:${w}:${n++}` },
        )
        commands++
      } catch {
        errors++
      }
    }
  }
  await run(warmUntil)
  round = 1
  commands = 0
  errors = 0
  const before = { ...runtime().stats }
  const cpu = process.cpuUsage()
  const started = performance.now()
  await run(started + message.durationMs)
  const used = process.cpuUsage(cpu)
  send({
    type: 'loaded',
    commands,
    errors,
    elapsedMs: performance.now() - started,
    cpuUs: used.user + used.system,
    forwarded: runtime().stats.forwarded - before.forwarded,
    retries: runtime().stats.retries - before.retries,
  })
}

async function latency(message: { samples: number; peer: string }) {
  const owned = new Set(runtime().ownedShards())
  const local: string[] = []
  const remote: string[] = []
  for (let i = 0; local.length < message.samples || remote.length < message.samples; i++) {
    const id = `lat-${options.nodeId}-${i}`
    const list = owned.has(runtime().shardOf('counter', id)) ? local : remote
    if (list.length < message.samples) list.push(id)
  }
  const time = async (run: () => Promise<unknown>) => {
    const t = performance.now()
    await run()
    return (performance.now() - t) * 1_000
  }
  const add = (id: string, round: number) => () =>
    counters.send(id, { type: 'add', by: 1 }, { commandId: `${id}:${round}` })
  // A payload the size of a forwarded command.
  const payload = new TextEncoder().encode(
    JSON.stringify({
      aggregateType: 'counter',
      id: 'lat-b1-0',
      command: { type: 'add', by: 1 },
      commandId: 'x'.repeat(36),
      remainingMs: 30_000,
    }),
  )
  // Warm both kinds (recovery happens on the first command of an id) and the peer's echo.
  for (const id of [...local, ...remote]) await add(id, 0)()
  for (let i = 0; i < 20; i++) await nats.request(echoSubject(message.peer), payload)
  // Interleaved, so a change of the machine's load touches all three alike.
  const localUs: number[] = []
  const remoteUs: number[] = []
  const natsUs: number[] = []
  for (let round = 1; round <= 3; round++) {
    for (let i = 0; i < message.samples; i++) {
      localUs.push(await time(add(local[i]!, round)))
      remoteUs.push(await time(add(remote[i]!, round)))
      natsUs.push(await time(() => nats.request(echoSubject(message.peer), payload)))
    }
  }
  send({ type: 'latency', localUs: median(localUs), remoteUs: median(remoteUs), natsUs: median(natsUs) })
}

process.on('message', (message: { type: string } & Record<string, number>) => {
  if (message.type === 'owned') send({ type: 'owned', count: runtime().ownedShards().length })
  else if (message.type === 'load') void load(message as never)
  else if (message.type === 'latency') void latency(message as never)
  else if (message.type === 'leave') {
    void node.leave().then(() => process.exit(0))
  }
})
send({ type: 'ready' })
