// Test helpers for integration tests against the stack ./ops/test starts. Everything comes from
// the environment stack.env describes (QUIRE_BIN, QUIRE_KAFKA_BROKERS, QUIRE_PG, ...); without
// it the tests fail loudly instead of skipping.
import { after } from 'node:test'
import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

export const env = process.env
for (const v of ['QUIRE_BIN', 'QUIRE_KAFKA_BROKERS', 'QUIRE_PG', 'QUIRE_JWT_KEYS', 'QUIRE_ROOT']) {
  if (!env[v]) throw new Error(`${v} is not set: run the integration tests through ./ops/test`)
}
export const BIN = env.QUIRE_BIN
export const ARTIFACTS = env.QUIRE_ARTIFACTS || path.join(env.QUIRE_ROOT, 'tests', 'artifacts')
fs.mkdirSync(ARTIFACTS, { recursive: true })

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// A port nobody listens on, for a role to bind. Not port 0's pick: that comes from the kernel's
// ephemeral range (32768-60999), where any outgoing connection of a concurrent suite (to Kafka,
// PostgreSQL, a gateway) may take it before the role binds. These come from below that range,
// outside the stacks' port blocks (ops/lib.sh: 18000-18999 dev, 28000-28999 test), picked at
// random and checked; a port is never handed out twice by one process.
const handedOut = new Set()
function listenable (port) {
  return new Promise((resolve) => {
    const srv = net.createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}
export async function freePort () {
  for (let i = 0; i < 1000; i++) {
    const port = 20000 + Math.floor(Math.random() * 12700) // 20000-32699
    if ((port >= 28000 && port < 29000) || handedOut.has(port)) continue
    if (await listenable(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('no free port in 20000-32699')
}

export async function waitFor (what, fn, { timeoutMs = 30000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs
  let last
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v) return v
    } catch (e) { last = e }
    await sleep(intervalMs)
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`)
}

// Starts a quire role as a child process with its log in the artifacts directory.
// Every role a test file started and did not stop is stopped after its last test, so that a
// failed test cannot leave a child process that keeps the file (and CTest) waiting.
const running = new Set()
after(async () => {
  for (const role of [...running]) {
    const t = setTimeout(() => role.proc.kill('SIGKILL'), 5000)
    await role.stop()
    clearTimeout(t)
  }
})

export async function startRole (name, args, { extraEnv = {}, healthUrl = null } = {}) {
  const log = fs.openSync(path.join(ARTIFACTS, `${name}.log`), 'a')
  const proc = spawn(BIN, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', log, log] })
  const role = {
    name,
    proc,
    exited: false,
    async kill (signal = 'SIGKILL') {
      if (role.exited) return
      const done = new Promise((resolve) => proc.once('exit', resolve))
      proc.kill(signal)
      await done
    },
    async stop () { await role.kill('SIGTERM') }
  }
  proc.once('exit', () => { role.exited = true; running.delete(role) })
  running.add(role)
  if (healthUrl) {
    await waitFor(`${name} to answer ${healthUrl}`, async () => {
      if (role.exited) throw new Error(`${name} exited: see ${ARTIFACTS}/${name}.log`)
      const r = await fetch(healthUrl)
      return r.ok
    })
  }
  return role
}

export async function startApi (name = 'api', extraArgs = [], extraEnv = {}) {
  const port = await freePort()
  const role = await startRole(name, ['api', '--listen', `127.0.0.1:${port}`, ...extraArgs], {
    extraEnv, healthUrl: `http://127.0.0.1:${port}/healthz`
  })
  role.url = `http://127.0.0.1:${port}`
  return role
}

export function token (user, ttl = '1h') {
  return execFileSync(BIN, ['token', 'issue', '--user', user, '--ttl', ttl]).toString().trim()
}

export function quire (args, opts = {}) {
  return execFileSync(BIN, args, { maxBuffer: 1 << 28, ...opts }).toString()
}

// Events of one document, decoded by `quire events tail` (with the update bytes).
export function eventsOf (doc) {
  return quire(['events', 'tail', '--doc', doc, '--from-beginning', '--exit-at-end', '--with-update'])
    .split('\n').filter(Boolean).map((l) => JSON.parse(l))
}

// High watermarks of a topic, one per partition, read with kcat.
export function highWatermarks (topic = `${env.QUIRE_TOPIC_PREFIX || 'quire'}.doc-updates`) {
  const md = JSON.parse(execFileSync('kcat', ['-b', env.QUIRE_KAFKA_BROKERS, '-L', '-J', '-t', topic]).toString())
  const parts = md.topics[0].partitions.map((p) => p.partition)
  const out = {}
  for (const p of parts) {
    const line = execFileSync('kcat', ['-b', env.QUIRE_KAFKA_BROKERS, '-Q', '-t', `${topic}:${p}:-1`]).toString()
    out[p] = Number(line.trim().split(/\s+/).pop())
  }
  return out
}

// Drives the test stack's broker/database for fault tests.
export function stackCtl (...args) {
  execFileSync(path.join(env.QUIRE_ROOT, 'ops', 'stack'), [env.QUIRE_STACK || 'test', ...args], { stdio: 'inherit' })
}

export function uniqueId (prefix) {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
}

// Access control (docs/auth.md): `owner` (a bearer token) shares `doc` with each user of `users`
// as `role` ('editor' or 'viewer'). Creates the document first when `create` is set.
export async function share (apiUrl, doc, ownerToken, users, { role = 'editor', create = false } = {}) {
  const auth = { Authorization: `Bearer ${ownerToken}` }
  if (create) {
    const r = await fetch(`${apiUrl}/v1/docs`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ id: doc })
    })
    if (r.status !== 201) throw new Error(`could not create ${doc}: ${r.status} ${await r.text()}`)
  }
  for (const u of users) {
    const r = await fetch(`${apiUrl}/v1/docs/${doc}/members/${u}`, {
      method: 'PUT', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ role })
    })
    if (r.status !== 200) throw new Error(`could not share ${doc} with ${u}: ${r.status} ${await r.text()}`)
  }
}

// The operator's way (`quire doc share`, no api needed): `owner` owns `doc` (claimed if nobody
// does) and each of `users` gets `role`. Gateways check membership at the upgrade (docs/auth.md).
export function shareDoc (doc, owner, users = [], role = 'editor') {
  quire(['doc', 'share', doc, '--owner', owner, '--role', role, '--log-level', 'warn', ...users])
}
