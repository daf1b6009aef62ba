import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { docsDir, printedBlock } from './markdown-examples.ts'

// The programs a reader copies from the README and the getting-started page, saved as printed (the call that
// starts them included) and run with `node --import tsx`, twice in the same folder as a reader who runs them
// again would. The folder sits under docs/ so that @statesource/* resolve to the workspace packages.
const scratch = join(docsDir, '.scratch')
mkdirSync(scratch, { recursive: true })
const dir = mkdtempSync(join(scratch, 'printed-'))

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Saves `code` as `name` in the folder and runs it with `node --import tsx`; returns the lines it printed. */
async function run(name: string, code: string): Promise<string[]> {
  const file = join(dir, name)
  writeFileSync(file, code)
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file], { cwd: dir })
  return stdout.trimEnd().split('\n')
}

async function runTwice(name: string, code: string): Promise<[string[], string[]]> {
  const first = await run(name, code)
  return [first, await run(name, code)]
}

describe('printed programs run as written, twice in a row', () => {
  it('README quick start', async () => {
    const code = printedBlock(join(docsDir, '..', 'README.md'), 'quick-start.ts', 'quick-start')
    const expected = [
      'version 2',
      'Command "withdraw" for "account|acc-1" was rejected by decide: insufficient funds',
    ]
    expect(await runTwice('quick-start.ts', code)).toEqual([expected, expected])
  })

  it('getting started: app.ts creates todos.db, and a second run finds its commands already done', async () => {
    const code = printedBlock(join(docsDir, 'getting-started.md'), 'getting-started.ts', 'app')
    const [first, second] = await runTwice('app.ts', code)
    expect(first).toEqual(['open 1, done 1, duplicate false'])
    expect(second).toEqual(['open 1, done 1, duplicate true'])
    expect(existsSync(join(dir, 'todos.db'))).toBe(true)
  })
})

describe("each package README's example runs as printed", () => {
  const readme = (name: string) => join(docsDir, '..', 'packages', name, 'README.md')

  it('@statesource/core', async () => {
    expect(await run('core.ts', printedBlock(readme('core'), 'package-core.ts', 'core'))).toEqual([
      'c-1 at version 1',
    ])
  })

  it('@statesource/sqlite, twice on lamps.db', async () => {
    const code = printedBlock(readme('sqlite'), 'package-sqlite.ts', 'sqlite')
    const expected = ['l-1 stored at version 1']
    expect(await runTwice('sqlite.ts', code)).toEqual([expected, expected])
  })

  it('@statesource/inspect', async () => {
    expect(await run('inspect.ts', printedBlock(readme('inspect'), 'package-inspect.ts', 'inspect'))).toEqual(
      ['true', 'stateDiagram-v2'],
    )
  })
})
