/** The parts of XState's StateNode that the exporters and checks read (not exported from the package). */
export interface StateNodeLike {
  readonly id: string
  readonly key: string
  readonly type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history'
  readonly states: Readonly<Record<string, StateNodeLike>>
  readonly parent?: StateNodeLike | undefined
  readonly initial?: { readonly target?: readonly StateNodeLike[] } | undefined
  readonly transitions?: ReadonlyMap<
    string,
    readonly { eventType: string; target?: StateNodeLike[] | undefined; guard?: unknown }[]
  >
  readonly always?: readonly { target?: StateNodeLike[] | undefined; guard?: unknown }[] | undefined
}

/** Every state node below (and including) `root`, depth first in document order. */
export function allStateNodes(root: StateNodeLike): StateNodeLike[] {
  const out: StateNodeLike[] = []
  const visit = (node: StateNodeLike) => {
    out.push(node)
    for (const child of Object.values(node.states ?? {})) visit(child)
  }
  visit(root)
  return out
}

/**
 * Mermaid-safe, unique ids for every state node: the node's path joined with `__`, reduced to letters,
 * digits and `_` (Mermaid state ids cannot hold dots), with a numeric suffix on the rare collision.
 */
export function mermaidIdsOf(root: StateNodeLike): Map<string, string> {
  const ids = new Map<string, string>()
  const used = new Set<string>()
  for (const node of allStateNodes(root)) {
    const base = `s_${node.id.replace(/\./g, '__').replace(/[^A-Za-z0-9_]/g, '_')}`
    let id = base
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`
    used.add(id)
    ids.set(node.id, id)
  }
  return ids
}

/** Ids of the state nodes a state value makes active, from the root down. */
export function activeStateIds(root: StateNodeLike, value: unknown): string[] {
  return activeStateNodes(root, value).map((node) => node.id)
}

/** @internal The state nodes a state value makes active, from the root down. */
export function activeStateNodes(root: StateNodeLike, value: unknown): StateNodeLike[] {
  const out: StateNodeLike[] = [root]
  const walk = (node: StateNodeLike, v: unknown) => {
    if (typeof v === 'string') {
      const child = node.states[v]
      if (child) out.push(child)
      return
    }
    if (v && typeof v === 'object') {
      for (const [key, sub] of Object.entries(v)) {
        const child = node.states[key]
        if (!child) continue
        out.push(child)
        walk(child, sub)
      }
    }
  }
  walk(root, value)
  return out
}

/** @internal A node's path of keys below the root (`checkout.payment`), whatever custom ids it has; `''` for the root. */
export function statePath(node: StateNodeLike): string {
  const keys: string[] = []
  for (let n: StateNodeLike | undefined = node; n?.parent; n = n.parent) keys.unshift(n.key)
  return keys.join('.')
}
