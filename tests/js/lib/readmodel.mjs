// Helpers for the read model's integration tests: projectors, PostgreSQL, raw Kafka records,
// yjs expectations. Built on stack.mjs (same environment, same failure-not-skip rule).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as Y from 'yjs'
import { env, startRole, freePort, waitFor, quire, highWatermarks, sleep } from './stack.mjs'

export const TOPIC = `${env.QUIRE_TOPIC_PREFIX || 'quire'}.doc-updates`

export async function startProjector (name = 'projector', extraArgs = []) {
  const port = await freePort()
  const role = await startRole(name, ['projector', '--admin-listen', `127.0.0.1:${port}`,
    '--session-timeout', '6s', ...extraArgs], { healthUrl: `http://127.0.0.1:${port}/healthz` })
  role.adminUrl = `http://127.0.0.1:${port}`
  return role
}

export function psql (sql) {
  return execFileSync('psql', [env.QUIRE_PG, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql]).toString().trim()
}

// The read model's next offset per partition.
export function storedOffsets () {
  const out = {}
  const rows = psql(`SELECT partition, next_offset FROM projector_offsets WHERE topic = '${TOPIC}'`)
  for (const line of rows.split('\n').filter(Boolean)) {
    const [p, o] = line.split('|').map(Number)
    out[p] = o
  }
  return out
}

// Waits until the read model covers every partition up to its high watermark.
export async function waitCaughtUp (timeoutMs = 120000) {
  const hw = highWatermarks()
  await waitFor('the projector to reach the end of the log', async () => {
    const st = storedOffsets()
    return Object.entries(hw).every(([p, h]) => (st[p] || 0) >= h)
  }, { timeoutMs, intervalMs: 200 })
}

export function verify () {
  try {
    return { code: 0, out: quire(['verify', '--log-level', 'warn']) }
  } catch (e) {
    return { code: e.status, out: `${e.stdout}${e.stderr}` }
  }
}

export function partitionOf (doc) {
  return Number(quire(['partition', '--partitions', env.QUIRE_PARTITIONS || '12', doc]).split(' ')[1])
}

// Produces one raw record (value bytes as given) with kcat, straight to the topic.
export function produceRaw (doc, value, partition = partitionOf(doc)) {
  const file = path.join(os.tmpdir(), `quire-raw-${process.pid}-${Math.random().toString(36).slice(2)}`)
  fs.writeFileSync(file, value)
  try {
    execFileSync('kcat', ['-b', env.QUIRE_KAFKA_BROKERS, '-P', '-t', TOPIC, '-p', String(partition), '-k', doc, file])
  } finally { fs.unlinkSync(file) }
}

// The raw value of one record.
export function rawRecord (partition, offset) {
  return execFileSync('kcat', ['-b', env.QUIRE_KAFKA_BROKERS, '-C', '-t', TOPIC, '-p', String(partition),
    '-o', String(offset), '-c', '1', '-e', '-q', '-f', '%s'])
}

// What quire's content rendering must equal: per root that holds a struct, Yjs's toJSON() (text
// and XML as their toString()).
export function expectedContent (ydoc, roots) {
  const out = {}
  for (const [name, kind] of Object.entries(roots)) {
    // quire lists the roots that hold at least one struct (deleted ones included)
    const shared = ydoc.share.get(name)
    if (!shared || (shared._start === null && shared._map.size === 0)) continue
    if (kind === 'text') out[name] = ydoc.getText(name).toString()
    else if (kind === 'xml') out[name] = ydoc.getXmlFragment(name).toString()
    else if (kind === 'map') out[name] = ydoc.getMap(name).toJSON()
    else if (kind === 'array') out[name] = ydoc.getArray(name).toJSON()
  }
  return out
}

export { Y, sleep }
