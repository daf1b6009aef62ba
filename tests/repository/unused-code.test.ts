// Unused files, exports and dependencies fail the tests: knip over the whole workspace, configured in
// knip.jsonc at the repository root (entry points it cannot find on its own are listed there).
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const knip = fileURLToPath(new URL('../../node_modules/knip/bin/knip.js', import.meta.url))

describe('unused code', () => {
  it('finds no unused file, export, type or dependency in any workspace package', async () => {
    const run = promisify(execFile)(process.execPath, [knip, '--no-progress', '--no-config-hints'], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    })
    // knip exits 1 and lists the findings when there are any; the list is the failure message.
    const output = await run.then(
      ({ stdout, stderr }) => stdout + stderr,
      (error: { stdout?: string; stderr?: string; message: string }) =>
        `${error.stdout ?? ''}${error.stderr ?? ''}` || error.message,
    )
    expect(
      output.trim(),
      'knip found unused code (remove it, or list a real entry point in knip.jsonc)',
    ).toBe('')
  }, 180_000)
})
