// Integration (SERIAL: measures idleness): an idle gateway with open documents and connected,
// synced clients issues no PostgreSQL queries, and its Kafka traffic is only long-poll fetches
// and metadata refreshes (I4) — measured from PostgreSQL's activity view and librdkafka's own
// request counters, not assumed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { uniqueId, sleep, waitFor, shareDoc } from './lib/stack.mjs'
import { startGateway, connect } from './lib/yclient.mjs'
import { psql } from './lib/readmodel.mjs'

function kafkaRequests (m) {
  const out = {}
  for (const [k, v] of m) {
    const match = /^quire_kafka_requests_total\{client="([^"]+)",type="([^"]+)"\}$/.exec(k)
    if (match) out[`${match[1]}/${match[2]}`] = v
  }
  return out
}

test('an idle gateway: no PostgreSQL queries, only long-poll fetches and metadata to Kafka (I4)', async () => {
  const gw = await startGateway('gw-idle')
  try {
    const doc = uniqueId('idle')
    shareDoc(doc, 'alice', ['bob'])
    const a = connect({ url: gw.url, doc, user: 'alice' })
    const b = connect({ url: gw.url, doc, user: 'bob' })
    a.provider.awareness.setLocalState(null) // presence is client traffic, not idleness
    b.provider.awareness.setLocalState(null)
    await a.synced(); await b.synced()
    a.ydoc.getText('t').insert(0, 'then nothing happens')
    await a.saved()
    await waitFor('b to have it', () => b.text() === 'then nothing happens')
    const sample = () => psql("SELECT pid || ':' || COALESCE(query_start::text, '') || ':' || state FROM pg_stat_activity WHERE application_name LIKE 'quire-gateway%' ORDER BY pid")
    await sleep(3000) // statistics interval: let librdkafka report once more
    const pg0 = sample()
    assert.ok(pg0.length > 0, 'the gateway holds a PostgreSQL connection (it joined a document)')
    const k0 = kafkaRequests(await gw.metrics())
    const seconds = 10
    await sleep(seconds * 1000)
    const k1 = kafkaRequests(await gw.metrics())
    assert.equal(sample(), pg0, 'no statement started by the idle gateway')
    const delta = {}
    for (const key of Object.keys(k1)) {
      const d = k1[key] - (k0[key] || 0)
      if (d > 0) delta[key] = d
    }
    console.log(`Kafka requests in ${seconds} s idle: ${JSON.stringify(delta)}`)
    for (const key of Object.keys(delta)) {
      const type = key.split('/')[1]
      assert.ok(['Fetch', 'Metadata', 'Heartbeat'].includes(type), `unexpected ${key} while idle`)
    }
    // long polls of at most fetch.wait.max.ms (500 ms) against one broker: ~2 a second
    assert.ok((delta['gateway-consumer/Fetch'] || 0) <= seconds * 3, `fetches: ${delta['gateway-consumer/Fetch']}`)
    assert.ok((delta['gateway-consumer/Fetch'] || 0) >= 1, 'the consumer long-polls while idle')
    assert.equal(delta['gateway-presence/Produce'] || 0, 0, 'no presence traffic without presence')
    a.close(); b.close()
  } finally {
    await gw.stop()
  }
})
