// Integration (SERIAL: stops PostgreSQL, kills processes, measures idleness): the projector is
// exactly-once across crashes (I3). kill -9 at random moments during a long stream, 20 times,
// with two instances rebalancing; PostgreSQL stopped in immediate mode and restarted; after each,
// `quire verify` proves the read model equals a fresh replay — nothing applied twice, nothing
// skipped. `quire replay` rebuilds the same read model. And an idle projector and api issue no
// PostgreSQL queries (I4).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startApi, token, uniqueId, stackCtl, sleep, waitFor, quire } from './lib/stack.mjs'
import { Y, startProjector, psql, verify, waitCaughtUp } from './lib/readmodel.mjs'

const tok = token('writer')

// Posts small edits to a few documents until stop() is called; now and then it retries a write
// with the same Idempotency-Key (same event ids: the projector must not count it twice).
function writer (api, docs, { paceMs = 5 } = {}) {
  let running = true
  let sent = 0
  let failed = 0
  const clients = docs.map(() => new Y.Doc())
  const loop = (async () => {
    let i = 0
    while (running) {
      const k = i % docs.length
      const d = clients[k]
      const before = Y.encodeStateVector(d)
      d.getText('t').insert(0, `e${i} `)
      const u = Y.encodeStateAsUpdate(d, before)
      const headers = { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/octet-stream' }
      if (i % 17 === 0) headers['Idempotency-Key'] = `k-${docs[k]}-${i}`
      try {
        const r = await fetch(`${api.url}/v1/docs/${docs[k]}/updates`, { method: 'POST', headers, body: u })
        if (r.status === 201) sent++
        else failed++
        await r.arrayBuffer()
        if (headers['Idempotency-Key']) {
          const r2 = await fetch(`${api.url}/v1/docs/${docs[k]}/updates`, { method: 'POST', headers, body: u })
          await r2.arrayBuffer()
        }
      } catch { failed++ }
      i++
      if (paceMs) await sleep(paceMs)
    }
  })()
  return {
    async stop () { running = false; await loop; return { sent, failed } },
    get sent () { return sent }
  }
}

test('kill -9 of projectors at random moments, 20 times, two instances rebalancing: verify passes (I3)', async () => {
  const api = await startApi('api-faults')
  const docs = Array.from({ length: 24 }, (_, i) => uniqueId(`kill${i}`))
  const w = writer(api, docs)
  const procs = [await startProjector('projector-k0'), await startProjector('projector-k1')]
  try {
    for (let k = 0; k < 20; k++) {
      await sleep(200 + Math.floor(Math.random() * 1300))
      const i = k % 2
      // every fifth round kills both at once: no survivor holds the partitions
      await procs[i].kill('SIGKILL')
      if (k % 5 === 4) await procs[1 - i].kill('SIGKILL')
      await sleep(Math.floor(Math.random() * 400))
      if (procs[i].exited) procs[i] = await startProjector(`projector-k${i}`)
      if (procs[1 - i].exited) procs[1 - i] = await startProjector(`projector-k${1 - i}`)
    }
    const { sent } = await w.stop()
    assert.ok(sent > 200, `a long stream was written (${sent})`)
    await waitCaughtUp(180000)
    const v = verify()
    assert.equal(v.code, 0, v.out)
    const fences = psql(`SELECT count(*) FROM doc_events WHERE doc_id IN (${docs.map((d) => `'${d}'`).join(',')})`)
    assert.ok(Number(fences) >= sent, `every acknowledged write is indexed (${fences} >= ${sent})`)
  } finally {
    await w.stop()
    for (const p of procs) await p.kill('SIGKILL')
    await api.stop()
  }
})

test('PostgreSQL stopped in immediate mode mid-stream and restarted: the projector waits, recovers, verify passes', async () => {
  const api = await startApi('api-pgdown')
  const projector = await startProjector('projector-pgdown')
  const docs = Array.from({ length: 6 }, (_, i) => uniqueId(`pgdown${i}`))
  const w = writer(api, docs)
  try {
    await waitFor('some writes', () => w.sent > 50, { timeoutMs: 60000 })
    stackCtl('pg-stop', 'immediate')
    const during = w.sent
    await sleep(3000)
    assert.ok(w.sent > during, 'writes go on while PostgreSQL is down (Kafka is the source of truth)')
    assert.equal(projector.exited, false, 'the projector waits instead of exiting')
    stackCtl('pg-start')
    await sleep(2000)
    const { sent } = await w.stop()
    assert.ok(sent > during)
    await waitCaughtUp(180000)
    const v = verify()
    assert.equal(v.code, 0, v.out)
    assert.equal(projector.exited, false)
  } finally {
    await w.stop()
    await projector.stop()
    await api.stop()
  }
})

test('an idle projector and api issue no PostgreSQL queries (I4)', async () => {
  const projector = await startProjector('projector-idle')
  const api = await startApi('api-idle')
  try {
    await waitCaughtUp()
    const sample = () => psql("SELECT application_name || ':' || pid || ':' || COALESCE(query_start::text, '') || ':' || state FROM pg_stat_activity WHERE application_name IN ('quire-projector', 'quire-api-notify') ORDER BY pid")
    // let deferred row writes and start-up queries settle
    await waitFor('backends to settle', async () => {
      const s1 = sample()
      await sleep(1500)
      return s1 === sample() && /quire-projector/.test(s1) && /quire-api-notify/.test(s1)
    }, { timeoutMs: 30000 })
    const first = sample()
    await sleep(6000)
    assert.equal(sample(), first, 'no statement started by the idle projector or the api listener')
  } finally {
    await api.stop()
    await projector.stop()
  }
})

test('quire replay rebuilds the same read model from the log', async () => {
  const api = await startApi('api-replay')
  let projector = await startProjector('projector-replay')
  try {
    const docs = Array.from({ length: 5 }, (_, i) => uniqueId(`replay${i}`))
    const auth = { Authorization: `Bearer ${tok}` }
    const versions = []
    for (const [i, doc] of docs.entries()) {
      const d = new Y.Doc()
      d.getText('t').insert(0, `replayed ${i}`)
      d.getMap('m').set('i', i)
      const r = await fetch(`${api.url}/v1/docs/${doc}/updates`, {
        method: 'POST', headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body: Y.encodeStateAsUpdate(d)
      })
      assert.equal(r.status, 201)
      versions.push((await r.json()).version)
    }
    const before = []
    for (const [i, doc] of docs.entries()) {
      const r = await fetch(`${api.url}/v1/docs/${doc}?min_version=${versions[i]}`, { headers: auth })
      assert.equal(r.status, 200)
      before.push(await r.json())
    }
    await waitCaughtUp()
    await projector.stop()
    const out = quire(['replay', '--yes', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] })
    assert.equal(typeof out, 'string')
    const v = verify()
    assert.equal(v.code, 0, v.out)
    for (const [i, doc] of docs.entries()) {
      const after = await fetch(`${api.url}/v1/docs/${doc}`, { headers: auth }).then((r) => r.json())
      assert.deepEqual(after.content, before[i].content)
      assert.deepEqual(after.content, { t: `replayed ${i}`, m: { i } })
      assert.equal(after.version, before[i].version)
      assert.equal(after.counts.events, before[i].counts.events)
    }
    projector = await startProjector('projector-replay')
  } finally {
    await projector.stop()
    await api.stop()
  }
})
