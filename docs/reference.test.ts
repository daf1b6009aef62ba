import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import * as cluster from '@statesource/cluster'
import * as core from '@statesource/core'
import * as testing from '@statesource/core/testing'
import * as inspect from '@statesource/inspect'
import * as postgres from '@statesource/postgres'
import * as sqlite from '@statesource/sqlite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const here = dirname(fileURLToPath(import.meta.url))
const reference = join(here, 'reference')
const packages = join(here, '..', 'packages')
const stale = 'docs/reference is out of date with the TSDoc in the source: run `pnpm docs:reference`'

const entryPoints = [
  { name: '@statesource/core', index: 'core/src/index.ts', module: core as object },
  { name: '@statesource/core/testing', index: 'core/src/testing/index.ts', module: testing as object },
  { name: '@statesource/sqlite', index: 'sqlite/src/index.ts', module: sqlite as object },
  { name: '@statesource/postgres', index: 'postgres/src/index.ts', module: postgres as object },
  { name: '@statesource/cluster', index: 'cluster/src/index.ts', module: cluster as object },
  { name: '@statesource/inspect', index: 'inspect/src/index.ts', module: inspect as object },
]

/** Every file under `dir`, as paths relative to it. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort()
}

/** The names an index.ts exports, from its explicit `export { ... } from` and `export type { ... } from` lists. */
function exportedNames(indexSource: string): string[] {
  const lists = [...indexSource.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}\s*from/g)]
  return lists.flatMap(([, list]) =>
    list!
      .split(',')
      .map((item) => item.trim().replace(/^type\s+/, ''))
      .filter((item) => item.length > 0)
      .map((item) => item.split(/\s+as\s+/).at(-1)!),
  )
}

describe('the API reference generated from TSDoc', () => {
  // Regenerating takes TypeDoc about 10 s; comparing the whole tree is the only check that also catches an
  // edited doc comment or signature.
  let generated: string
  beforeAll(async () => {
    generated = mkdtempSync(join(tmpdir(), 'statesource-reference-'))
    const typedoc = join(here, 'node_modules', 'typedoc', 'bin', 'typedoc')
    await promisify(execFile)(process.execPath, [typedoc, '--options', 'typedoc.json', '--out', generated], {
      cwd: here,
    })
  }, 120_000)
  afterAll(() => rmSync(generated, { recursive: true, force: true }))

  it('is current: regenerating it gives the committed pages byte for byte', () => {
    const committed = listFiles(reference)
    expect(committed, stale).toEqual(listFiles(generated))
    for (const file of committed) {
      const ours = readFileSync(join(reference, file), 'utf8')
      expect(ours, `${stale} (${file} differs)`).toBe(readFileSync(join(generated, file), 'utf8'))
    }
  })

  it.each(entryPoints)('links a page for every export of $name', ({ name, index, module }) => {
    const declared = exportedNames(readFileSync(join(packages, index), 'utf8'))
    // The parser must see every runtime export, or it is missing a form of export list.
    expect(declared).toEqual(expect.arrayContaining(Object.keys(module)))
    const page = readFileSync(join(reference, name, 'README.md'), 'utf8')
    // Markdown escapes the underscores of names like SCHEDULE_TABLE, and strikes deprecated names through.
    const links = [...page.matchAll(/^\| \[(?:~~)?([\w\\]+)(?:~~)?\]\(/gm)]
    const linked = new Set(links.map(([, exported]) => exported!.replaceAll('\\', '')))
    const missing = declared.filter((exported) => !linked.has(exported))
    expect(missing, `exports of ${name} with no reference page`).toEqual([])
  })

  it('has no broken relative links', () => {
    const broken = listFiles(reference).flatMap((file) => {
      const text = readFileSync(join(reference, file), 'utf8')
      return [...text.matchAll(/\]\(([^)#\s]+\.md)(?:#[^)]*)?\)/g)]
        .map(([, target]) => target!)
        .filter((target) => !/^[a-z]+:/.test(target))
        .filter((target) => !existsSync(join(reference, dirname(file), target)))
        .map((target) => `${file} -> ${target}`)
    })
    expect(broken).toEqual([])
  })
})
