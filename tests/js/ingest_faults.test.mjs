// Integration (fault): the broker is stopped while updates are being sent. No 201 is ever given
// for something Kafka did not persist; after the broker returns, retried updates land; every
// acknowledged update is in the log at the offset it was acknowledged with (I1 at this layer).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { startApi, token, eventsOf, stackCtl, uniqueId, sleep } from './lib/stack.mjs'

test('broker stopped mid-stream: no false success, every acknowledged update survives', { timeout: 300000 }, async () => {
  const api = await startApi('api-faults', ['--produce-timeout', '3s'])
  const tok = token('alice')
  const docs = [uniqueId('fault-a'), uniqueId('fault-b'), uniqueId('fault-c')]
  const N = 150
  const acked = []
  let refused = 0
  let networkErrors = 0
  let brokerDown = false
  let refusedWhileDown = 0
  const writer = (async () => {
    for (let i = 0; i < N; i++) {
      const d = new Y.Doc()
      d.getText('t').insert(0, `update ${i};`)
      const body = Y.encodeStateAsUpdate(d)
      const doc = docs[i % docs.length]
      const key = `k-${i}`
      for (;;) {
        let r
        try {
          r = await fetch(`${api.url}/v1/docs/${doc}/updates`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/octet-stream', 'Idempotency-Key': key },
            body
          })
        } catch (e) { networkErrors++; await sleep(200); continue }
        const text = await r.text()
        if (r.status === 201) {
          acked.push({ i, doc, body, answer: JSON.parse(text) })
          break
        }
        assert.equal(r.status, 503, `only 503 while Kafka is away, got ${r.status}: ${text}`)
        refused++
        if (brokerDown) refusedWhileDown++
        await sleep(300)
      }
      await sleep(20)
    }
  })()
  while (acked.length < 40) await sleep(50)
  brokerDown = true
  stackCtl('kafka-stop')
  await sleep(6000)
  brokerDown = false
  stackCtl('kafka-start')
  await writer
  await api.stop()

  assert.equal(acked.length, N)
  assert.ok(refusedWhileDown > 0, 'the stopped broker was noticed (503s while it was down)')
  for (const doc of docs) {
    const events = eventsOf(doc)
    const byOffset = new Map(events.map((e) => [e.offset, e]))
    for (const a of acked.filter((x) => x.doc === doc)) {
      const ev = byOffset.get(a.answer.offset)
      assert.ok(ev, `acknowledged update ${a.i} is at offset ${a.answer.offset}`)
      assert.deepEqual(Buffer.from(ev.update_base64, 'base64'), Buffer.from(a.body), `update ${a.i} bytes`)
      assert.equal(ev.partition, a.answer.partition)
    }
    // every logical update of this doc is in the log at least once (retries may duplicate: Yjs
    // updates are idempotent and share the event id derived from the Idempotency-Key)
    const ids = new Set(events.map((e) => e.event_id))
    assert.ok(ids.size <= events.length)
  }
  console.log(`acked ${acked.length}, refused ${refused} (${refusedWhileDown} while down), network errors ${networkErrors}`)
})
