import { execFile } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, inject, it } from 'vitest'
// The ProvidedContext augmentation that types inject('pgUrl').
import type {} from '../../postgres/test/global-setup.ts'

const natsUrl = process.env.STATESOURCE_NATS_URL ?? '127.0.0.1:4222'
const natsUp = await new Promise<boolean>((resolve) => {
  const [host, port] = natsUrl.split(':')
  const socket = net.connect({ host, port: Number(port) })
  socket.setTimeout(1_000)
  socket.once('connect', () => {
    socket.destroy()
    resolve(true)
  })
  socket.once('error', () => resolve(false))
  socket.once('timeout', () => resolve(false))
})
if (!natsUp && process.env.CI === 'true')
  throw new Error(`NATS at ${natsUrl} is not reachable; under CI=true the cluster demo must run.`)
if (!natsUp) console.warn(`the cluster demo test is skipped: NATS at ${natsUrl} is not reachable`)

it.skipIf(!natsUp)(
  'pnpm demo:cluster -- --kill-one: three processes, one killed half-way, every acknowledged command once',
  async () => {
    const main = fileURLToPath(new URL('../src/cluster/main.ts', import.meta.url))
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        main,
        '--kill-one',
        '--commands',
        '200',
        '--pg',
        inject('pgUrl'),
        '--nats',
        natsUrl,
      ],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 110_000 },
    )
    expect(stdout).toContain('Shards at the start')
    expect(stdout).toMatch(/SIGKILL node-3, which owns \d+ shards/)
    expect(stdout).toMatch(/its shards moved to the others within/)
    expect(stdout).toContain('Every acknowledged command is in the journal exactly once.')
  },
  120_000,
)
