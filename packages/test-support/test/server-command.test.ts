import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { type ServerCommandHooks, startServerCommand } from '../src/server-command.ts'

/** A tiny server command: listens on loopback, answers "ok", closes and exits 0 when stopped. */
async function serve(hooks: ServerCommandHooks): Promise<number> {
  const server = createServer((_, response) => response.end('ok'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  hooks.onListening(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
  await hooks.untilStopped()
  await new Promise((resolve) => server.close(resolve))
  return 0
}

describe('startServerCommand', () => {
  it('resolves with the URL once the command listens, and stop() returns its exit code', async () => {
    const running = await startServerCommand(serve)
    expect(await (await fetch(running.url)).text()).toBe('ok')
    expect(await running.stop()).toBe(0)
    await expect(fetch(running.url)).rejects.toThrow()
  })

  it('rejects with the exit code when the command ends before listening', async () => {
    await expect(startServerCommand(async () => 2)).rejects.toThrow('exit code 2 before it listened')
  })

  it('reports a command that failed after it started listening when it is stopped', async () => {
    const running = await startServerCommand(async (hooks) => {
      hooks.onListening('http://127.0.0.1:9/')
      throw new Error('the database went away')
    })
    await expect(running.stop()).rejects.toThrow('the database went away')
  })

  it('rejects with the error when the command throws before listening', async () => {
    await expect(
      startServerCommand(async () => {
        throw new Error('no such database')
      }),
    ).rejects.toThrow('no such database')
  })
})
